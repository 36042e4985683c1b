//! Mail: address confirmation, password reset and invitations through the outbox, delivered
//! to a real SMTP server the test runs.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestApp, assert_error, send};
use crate::smtp::SmtpSink;

const PASSWORD: &str = "a password for mail";

/// The token of the first link in `message` to the admin page `page` (on the configured
/// public address, which a test server on a random port does not know).
fn token(_app: &TestApp, message: &crate::smtp::Received, page: &str) -> String {
    let marker = format!("/admin/{page}?token=");
    let text = message.text();
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} link in: {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// The messages to `to` once there are `n` of them (or what came within 20 s); the test
/// server's own admin gets mail too.
async fn mail_to(sink: &SmtpSink, to: &str, n: usize) -> Vec<crate::smtp::Received> {
    let mine = || -> Vec<crate::smtp::Received> {
        sink.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    };
    for _ in 0..200 {
        if mine().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mine()
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> crate::harness::Reply {
    send(
        app.client
            .post(app.url(&format!("/admin/api/v1/auth{path}")))
            .json(&body),
    )
    .await
}

/// Sets a new password with a reset (or invitation) link's token.
async fn complete_reset(app: &TestApp, token: &str, password: &str) -> crate::harness::Reply {
    post(
        app,
        "/password-reset/complete",
        json!({ "token": token, "password": password }),
    )
    .await
}

/// Signs in for a bearer session token.
async fn session_token(app: &TestApp, email: &str, password: &str) -> String {
    post(
        app,
        "/login",
        json!({ "email": email, "password": password, "token": "bearer" }),
    )
    .await
    .json()["data"]["session"]["token"]
        .as_str()
        .expect("a session token")
        .to_owned()
}

#[tokio::test]
async fn addresses_are_confirmed_and_passwords_reset_by_single_use_links() {
    let sink = SmtpSink::start().await;
    let app = TestApp::builder().smtp(&sink.url()).start().await.unwrap();
    let (status, user) = app
        .admin_json(
            Method::POST,
            "/users",
            json!({ "email": "mailed@example.com", "role": "editor", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(user["data"]["email_verified"], false);

    // The confirmation arrives by SMTP; its link confirms the address, once.
    let mail = mail_to(&sink, "mailed@example.com", 1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].header("subject").as_deref(),
        Some("Confirm your email address")
    );
    let verify = token(&app, &mail[0], "verify-email");
    let r = post(&app, "/verify-email", json!({ "token": verify })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (_, user) = app
        .admin_call(Method::GET, &format!("/users/{user_id}"))
        .await;
    assert_eq!(user["data"]["email_verified"], true);
    let r = post(&app, "/verify-email", json!({ "token": verify })).await;
    assert_error(
        r.status,
        &r.json(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_link",
    );

    // A session from before the reset.
    let before = session_token(&app, "mailed@example.com", PASSWORD).await;

    // Unknown addresses get the same answer and no mail.
    let unknown = post(
        &app,
        "/password-reset",
        json!({ "email": "stranger@example.com" }),
    )
    .await;
    let known = post(
        &app,
        "/password-reset",
        json!({ "email": "MAILED@example.com" }),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!(unknown.text, known.text);
    let mail = mail_to(&sink, "mailed@example.com", 2).await;
    assert_eq!(mail.len(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        mail_to(&sink, "stranger@example.com", 0).await.is_empty(),
        "nothing was sent to the unknown address"
    );
    let reset = token(&app, &mail[1], "reset-password");

    // The new password follows the rules; the link survives a refused attempt.
    let r = complete_reset(&app, &reset, "1234567890").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = complete_reset(&app, &reset, "the brand new password").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = complete_reset(&app, &reset, "yet another new password").await;
    assert_error(
        r.status,
        &r.json(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_link",
    );

    // Sessions from before are over; only the new password signs in.
    let r = send(
        app.client
            .get(app.url("/admin/api/v1/auth/me"))
            .bearer_auth(&before),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let old = post(
        &app,
        "/login",
        json!({ "email": "mailed@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = post(
        &app,
        "/login",
        json!({ "email": "mailed@example.com", "password": "the brand new password" }),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);
}

#[tokio::test]
async fn invited_users_choose_their_password_by_link() {
    let sink = SmtpSink::start().await;
    let app = TestApp::builder().smtp(&sink.url()).start().await.unwrap();
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/users",
            json!({ "email": "invited@example.com", "role": "author" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mail = mail_to(&sink, "invited@example.com", 1).await;
    assert_eq!(
        mail[0].header("subject").as_deref(),
        Some("You are invited to Folio")
    );
    let r = post(
        &app,
        "/login",
        json!({ "email": "invited@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no password yet");
    let invite = token(&app, &mail[0], "reset-password");
    let r = complete_reset(&app, &invite, PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = post(
        &app,
        "/login",
        json!({ "email": "invited@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn mail_waits_in_the_outbox_through_a_mail_server_outage() {
    let sink = SmtpSink::start().await;
    sink.fail_next(2);
    let app = TestApp::builder().smtp(&sink.url()).start().await.unwrap();
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/users",
            json!({ "email": "patient@example.com", "role": "viewer", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Two refusals, then the retries (after 1 s, then 2 s) get it through.
    let mail = mail_to(&sink, "patient@example.com", 1).await;
    assert_eq!(mail.len(), 1, "delivered after the outage");
}

#[tokio::test]
async fn without_a_mail_server_messages_are_written_as_files() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/users",
            json!({ "email": "filed@example.com", "role": "viewer", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let dir = app.dir.path().join("mail");
    let mut found = None;
    for _ in 0..100 {
        found = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|text| text.contains("filed@example.com"));
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let eml = found.expect("an .eml file under DATA_DIR/mail");
    assert!(eml.contains("To: filed@example.com"), "{eml}");
    assert!(eml.contains("Subject: Confirm your email address"), "{eml}");
}

/// Setting a password, with one link or by its owner, voids every other reset and invitation
/// link of the user: an older link found in a mailbox later must not set it again.
#[tokio::test]
async fn a_new_password_voids_every_outstanding_link() {
    let sink = SmtpSink::start().await;
    let app = TestApp::builder().smtp(&sink.url()).start().await.unwrap();
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/users",
            json!({ "email": "twice@example.com", "role": "editor", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..2 {
        let r = post(
            &app,
            "/password-reset",
            json!({ "email": "twice@example.com" }),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    // The confirmation, then two reset links.
    let mail = mail_to(&sink, "twice@example.com", 3).await;
    assert_eq!(mail.len(), 3);
    let first = token(&app, &mail[1], "reset-password");
    let second = token(&app, &mail[2], "reset-password");
    let r = complete_reset(&app, &second, "the password of link two").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = complete_reset(&app, &first, "the password of link one").await;
    assert_error(
        r.status,
        &r.json(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_link",
    );

    // A link asked for, then a password change by its owner.
    let r = post(
        &app,
        "/password-reset",
        json!({ "email": "twice@example.com" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let mail = mail_to(&sink, "twice@example.com", 4).await;
    let third = token(&app, &mail[3], "reset-password");
    let session = session_token(&app, "twice@example.com", "the password of link two").await;
    let r = send(
        app.client
            .post(app.url("/admin/api/v1/auth/password"))
            .bearer_auth(&session)
            .json(&json!({
                "current_password": "the password of link two",
                "new_password": "changed by its owner",
            })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = complete_reset(&app, &third, "the password of link three").await;
    assert_error(
        r.status,
        &r.json(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_link",
    );
    let r = post(
        &app,
        "/login",
        json!({ "email": "twice@example.com", "password": "changed by its owner" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

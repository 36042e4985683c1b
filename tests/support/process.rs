//! Helpers for tests and harnesses that run `folio serve` as a process of its own: a free
//! port to give it, a bearer session token from it, and its JSON answers.

use serde_json::{Value, json};

/// A port nothing listens on now (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Sends `request` and reads its answer as JSON; what went wrong, as text.
#[allow(dead_code)]
pub async fn json_answer(request: reqwest::RequestBuilder) -> Result<Value, String> {
    request
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// Signs in at `base` (`http://host:port`) and returns the session token for `Authorization`.
pub async fn bearer_token(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> String {
    let login: Value = client
        .post(format!("{base}/admin/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password, "token": "bearer" }))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("a JSON answer");
    login["data"]["session"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no session token in {login}"))
        .to_owned()
}

/// Creates an admin with `folio user create`, `folio` being the command with its environment
/// (data directory, content types) set: the password goes in on standard input.
pub fn create_admin(mut folio: std::process::Command, email: &str, password: &str) {
    use std::io::Write;
    let mut create = folio
        .args(["user", "create", "--email", email, "--role", "admin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("folio user create");
    writeln!(create.stdin.take().expect("stdin"), "{password}").expect("password");
    assert!(
        create.wait().expect("folio user create").success(),
        "folio user create {email}"
    );
}

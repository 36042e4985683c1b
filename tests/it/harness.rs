//! `TestApp`: a real Folio server on a random port, with a real HTTP client.

use std::path::{Path, PathBuf};

use folio::Config;
use poem::listener::{Acceptor, Listener, TcpListener};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin every test server starts with.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "a long test password";

pub struct TestApp {
    pub base: String,
    /// A session token of the admin user every test server has.
    pub token: String,
    pub client: reqwest::Client,
    /// Queries sent to the database so far (does not hold the database open).
    pub queries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<folio::Result<()>>>,
    /// The accounts service, kept only by servers started without an admin (it holds the
    /// database open, so it is dropped before stopping).
    pub accounts: Option<folio::accounts::Accounts>,
    /// Keeps the data directory alive for the test's lifetime.
    pub dir: tempfile::TempDir,
}

/// The repository's example content types.
pub fn example_types() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("content-types")
}

pub struct Builder {
    types: PathBuf,
    dir: Option<tempfile::TempDir>,
    persistent: bool,
    max_body_bytes: Option<usize>,
    allow_destructive: bool,
    no_admin: bool,
    cors_origins: Vec<String>,
    smtp: Option<String>,
    two_factor_roles: Vec<String>,
    media: Option<folio::config::MediaConfig>,
    server: Option<DatabaseServer>,
    write_buffer_mib: Option<u64>,
    configure: Vec<ConfigChange>,
}

/// A change a test makes to the configuration a server starts with.
type ConfigChange = Box<dyn FnOnce(&mut Config) + Send>;

/// A SurrealDB server to use instead of the embedded store.
#[derive(Clone)]
pub struct DatabaseServer {
    /// `ws://host:port`
    pub url: String,
    pub username: String,
    pub password: String,
    /// The database within the `folio` namespace.
    pub database: String,
}

impl TestApp {
    /// The example types, an in-memory database.
    pub async fn spawn() -> TestApp {
        TestApp::builder().start().await.expect("server starts")
    }

    pub fn builder() -> Builder {
        Builder {
            types: example_types(),
            dir: None,
            persistent: false,
            max_body_bytes: None,
            allow_destructive: false,
            write_buffer_mib: None,
            no_admin: false,
            cors_origins: Vec::new(),
            smtp: None,
            two_factor_roles: Vec::new(),
            media: None,
            server: None,
            configure: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// An admin request with the token.
    pub fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(&format!("/admin/api/v1{path}")))
            .bearer_auth(&self.token)
    }

    /// A delivery GET without a token; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.client.get(self.url(path))).await.parts()
    }

    /// A delivery GET with query pairs, which reqwest percent-encodes (brackets included).
    pub async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        send(self.client.get(self.url(path)).query(query))
            .await
            .parts()
    }

    /// Sends an admin request with a JSON body; returns status and JSON body.
    pub async fn admin_json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.admin(method, path).json(&body)).await.parts()
    }

    /// Sends an admin request without a body; returns status and JSON body.
    pub async fn admin_call(&self, method: Method, path: &str) -> (StatusCode, Value) {
        send(self.admin(method, path)).await.parts()
    }

    /// Creates an entry (optionally published) and returns its `data`.
    pub async fn create(&self, type_id: &str, fields: Value, publish: bool) -> Value {
        let (status, body) = self
            .admin_json(
                Method::POST,
                &format!("/content/{type_id}"),
                json!({ "fields": fields, "publish": publish }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create {type_id}: {body}");
        body["data"].clone()
    }

    /// An author, a tag and a published article using them.
    pub async fn seed_article(&self, title: &str, tag_name: &str) -> (Value, Value, Value) {
        let author = self
            .create(
                "author",
                json!({ "name": format!("Author of {title}"), "email": format!("{}@example.com", ulid::Ulid::new().to_string().to_lowercase()) }),
                false,
            )
            .await;
        let tag = self.create("tag", json!({ "name": tag_name }), false).await;
        let article = self
            .create(
                "article",
                json!({
                    "title": { "en": title },
                    "body": { "en": format!("Body of *{title}*") },
                    "author": author["id"],
                    "tags": [tag["id"]],
                }),
                true,
            )
            .await;
        (author, tag, article)
    }

    /// Waits (up to a minute) until the search index holds every change made so far: nothing
    /// recorded is left to apply and no rebuild is queued or running.
    pub async fn search_settled(&self) {
        for _ in 0..3000 {
            let (status, body) = self.admin_call(Method::GET, "/search/status").await;
            let d = &body["data"];
            if status == StatusCode::OK
                && d["caught_up"] == true
                && d["pending"] == 0
                && d["rebuilding"].as_object().is_some_and(|m| m.is_empty())
                && d["queued"].as_array().is_some_and(|q| q.is_empty())
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the search index did not settle within a minute");
    }

    /// A delivery search without a token.
    pub async fn search(&self, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.get_query("/api/v1/search", query).await
    }

    /// An admin search with the admin's session.
    pub async fn admin_search(&self, query: &[(&str, &str)]) -> (StatusCode, Value) {
        send(self.admin(Method::GET, "/search").query(query))
            .await
            .parts()
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        drop(self.accounts.take());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server stops cleanly");
        }
        self.dir
    }
}

/// A response read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn parts(self) -> (StatusCode, Value) {
        (self.status, self.json())
    }
}

/// Sends a request and reads the whole response. Every response, whatever the route or the
/// error, must carry a request id and must not be a 5xx: hostile or wrong input is the
/// client's fault, and a 500 would mean the server did not see it coming.
pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("response body");
    assert!(
        headers.contains_key("x-request-id"),
        "{status} without an x-request-id header: {text}"
    );
    assert!(!status.is_server_error(), "server error {status}: {text}");
    Reply {
        status,
        headers,
        text,
    }
}

/// Checks an error answer: its status and its stable `code`.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].is_string(),
        "an error has a message: {body}"
    );
}

/// Copies a directory tree (a stopped server's data directory, a content-type directory).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

impl Builder {
    pub fn types(mut self, dir: impl Into<PathBuf>) -> Self {
        self.types = dir.into();
        self
    }

    /// Keep the database on disk (SurrealKV) in this directory, for restart tests.
    pub fn data_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self.persistent = true;
        self
    }

    pub fn persistent(mut self) -> Self {
        self.persistent = true;
        self
    }

    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = Some(n);
        self
    }

    /// Sends mail through the SMTP server at `url`, retrying after a second.
    pub fn smtp(mut self, url: &str) -> Self {
        self.smtp = Some(url.to_owned());
        self
    }

    /// Users with `role` must use two-factor login.
    pub fn two_factor_role(mut self, role: &str) -> Self {
        self.two_factor_roles.push(role.to_owned());
        self
    }

    /// Lets pages from `origin` call the APIs.
    pub fn cors_origin(mut self, origin: &str) -> Self {
        self.cors_origins.push(origin.to_owned());
        self
    }

    /// Starts with no users at all (and so without a token), as a fresh installation does.
    pub fn no_admin(mut self) -> Self {
        self.no_admin = true;
        self
    }

    /// Media settings other than the defaults (store, limits).
    pub fn media(mut self, f: impl FnOnce(&mut folio::config::MediaConfig)) -> Self {
        let mut m = self.media.take().unwrap_or_default();
        f(&mut m);
        self.media = Some(m);
        self
    }

    /// Keep the data in a SurrealDB server's database rather than an embedded store.
    pub fn database_server(mut self, server: DatabaseServer) -> Self {
        self.server = Some(server);
        self
    }

    /// The embedded store's write buffer, which also bounds the largest transaction.
    pub fn write_buffer_mib(mut self, mib: u64) -> Self {
        self.write_buffer_mib = Some(mib);
        self
    }

    /// Changes the configuration after every other builder step.
    pub fn configure(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub fn allow_destructive(mut self) -> Self {
        self.allow_destructive = true;
        self
    }

    pub async fn start(self) -> folio::Result<TestApp> {
        let dir = match self.dir {
            Some(d) => d,
            None => tempfile::tempdir().expect("temp dir"),
        };
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            content_types: self.types,
            database: if self.persistent {
                None
            } else {
                Some("mem://".into())
            },
            allow_destructive: self.allow_destructive,
            cors_origins: self.cors_origins.clone(),
            two_factor_roles: self.two_factor_roles.clone(),
            ..Config::default()
        };
        if let Some(server) = &self.server {
            config.database = Some(server.url.clone());
            config.database_username = Some(server.username.clone());
            config.database_password = Some(server.password.clone());
            config.database_name = server.database.clone();
        }
        if let Some(mib) = self.write_buffer_mib {
            config.database_write_buffer_mib = mib;
        }
        config.mail.url = self.smtp.clone();
        config.mail.retry_seconds = 1;
        if let Some(m) = self.media.clone() {
            config.media = m;
        }
        if let Some(n) = self.max_body_bytes {
            config.limits.max_body_bytes = n;
        }
        for f in self.configure {
            f(&mut config);
        }
        // Bound first, so the links the server hands out (media URLs) carry the real port.
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("tcp address");
        config.public_url = Some(format!("http://{addr}"));
        let prepared = folio::prepare(&config).await?;
        // Every test server has an admin (a restart on the same data keeps the one it had),
        // unless it is to start as a fresh installation.
        let (token, accounts) = if self.no_admin {
            (String::new(), Some(prepared.accounts.clone()))
        } else {
            match prepared
                .accounts
                .create_user(
                    "test",
                    None,
                    ADMIN_EMAIL,
                    "Admin",
                    "admin",
                    Some(ADMIN_PASSWORD.into()),
                )
                .await
            {
                Ok(_) | Err(folio::Error::Validation(_)) => {}
                Err(e) => return Err(e),
            }
            let token = match prepared
                .accounts
                .login(ADMIN_EMAIL, ADMIN_PASSWORD, None, None)
                .await?
            {
                folio::accounts::LoginOutcome::Session(s) => s.token,
                other => panic!("the test admin signs in with a password only: {other:?}"),
            };
            (token, None)
        };
        let queries = prepared.content.store().query_counter();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(folio::serve(prepared, config, acceptor, async move {
            let _ = rx.await;
        }));
        let app = TestApp {
            base: format!("http://{addr}"),
            token,
            accounts,
            client: reqwest::Client::new(),
            queries,
            shutdown: Some(tx),
            handle: Some(handle),
            dir,
        };
        app.wait_ready().await;
        Ok(app)
    }
}

impl TestApp {
    /// Waits (up to a minute) for `/readyz`: the search index has applied what was recorded
    /// before start-up and every searchable type has an index.
    async fn wait_ready(&self) {
        for _ in 0..3000 {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            if self.handle.as_ref().is_some_and(|h| h.is_finished()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the server did not become ready within a minute");
    }
}

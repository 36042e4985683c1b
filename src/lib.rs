//! Folio: a headless CMS in one binary.
//!
//! Content types are TOML files (`schema`); entries live in SurrealDB (`storage`) behind the
//! content service (`content`), which the HTTP layer (`api`) exposes as an admin API and a
//! delivery API. `serve` runs the whole server; the CLI (`cli`) wraps it and the offline
//! commands. See ARCHITECTURE.md for the map and the rules between modules.

#![forbid(unsafe_code)]

pub mod access;
pub mod accounts;
pub mod api;
pub mod cache;
pub mod cli;
pub mod config;
pub mod content;
pub mod error;
pub mod mail;
pub mod markdown;
pub mod media;
pub mod plugins;
pub mod query_model;
pub mod schema;
pub mod search;
pub mod storage;
pub mod time;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use poem::listener::Acceptor;

pub use config::Config;
pub use error::{Error, Result};

use content::Content;
use plugins::PluginHost;
use storage::Store;

/// Everything start-up prepares before the first request: the content types, the database
/// with the schema applied, and the accounts service.
pub struct Prepared {
    pub content: Content,
    pub accounts: accounts::Accounts,
    pub search: search::Search,
    pub media: media::Media,
}

/// Loads the content types, checks their hooks, connects to the database and applies the
/// schema (refusing destructive changes unless allowed).
pub async fn prepare(config: &Config) -> Result<Prepared> {
    let schema = load_schema(&config.content_types)?;
    let plugins = PluginHost::default();
    if let Err(errors) = plugins.check(&schema) {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(Error::Config(text.join("\n")));
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::connect(config).await?;
    // Search work queued before the change-event log existed moves into it, so the old queue
    // is empty when the plan removes it.
    let adopted = store.adopt_search_work().await?;
    if adopted > 0 {
        tracing::info!(
            adopted,
            "moved queued search work into the change-event log"
        );
    }
    // Likewise audit records queued before the log carried them.
    let adopted = store.adopt_audit_queue().await?;
    if adopted > 0 {
        tracing::info!(
            adopted,
            "moved queued audit records into the change-event log"
        );
    }
    let plan = store.plan_schema(&schema).await?;
    if !plan.is_empty() {
        tracing::info!("applying content-type changes:\n{plan}");
    }
    store.apply_schema(plan, config.allow_destructive).await?;
    let mailer = mail::Mailer::new(config, store.clone())?;
    let accounts = accounts::Accounts::new(
        store.clone(),
        accounts::SessionPolicy::from_config(config),
        mailer,
        config.public_base(),
    );
    accounts.load_roles().await?;
    let schema = Arc::new(schema);
    let search = search::Search::open(config, schema.clone(), store.clone())?;
    let media = media::Media::open(config, store.clone(), schema.site_locales())?;
    Ok(Prepared {
        content: Content::new(
            store,
            schema,
            plugins,
            media.clone(),
            content::Limits::from_config(&config.limits),
        ),
        accounts,
        search,
        media,
    })
}

/// Reads and checks every content-type file.
pub fn load_schema(dir: &Path) -> Result<schema::Schema> {
    if !dir.is_dir() {
        return Err(Error::Config(format!(
            "content-type directory {} does not exist (set content_types in folio.toml, \
             FOLIO_CONTENT_TYPES or --content-types)",
            dir.display()
        )));
    }
    schema::load_dir(dir).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Error::Config(format!(
            "{} error(s) in content types:\n{}",
            errors.len(),
            text.join("\n")
        ))
    })
}

/// Runs the server on `acceptor` until `shutdown` completes, then lets in-flight requests
/// finish and closes the database.
pub async fn serve<A, F>(prepared: Prepared, config: Config, acceptor: A, shutdown: F) -> Result<()>
where
    A: Acceptor + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let store = prepared.content.store().clone();
    if let Some(secret) = prepared.accounts.setup_secret().await? {
        tracing::warn!(
            "no users yet: create the first admin at {}/admin/setup#{secret} (valid for 24 hours), \
             or run `folio user create --role admin`",
            config.public_base()
        );
    }
    // Mail is delivered until the server stops (what is left waits in the outbox).
    let (mail_stop, mail_stopped) = tokio::sync::oneshot::channel::<()>();
    let mail_task = tokio::spawn(prepared.accounts.mailer().clone().run(async move {
        let _ = mail_stopped.await;
    }));
    // Audit records carried by the writes' events are chained as they come (those a crash
    // left unchained first).
    let (audit_stop, mut audit_stopped) = tokio::sync::oneshot::channel::<()>();
    let audit_task = tokio::spawn({
        let store = store.clone();
        let wake = store.audit_signal();
        async move {
            loop {
                if let Err(e) = store.chain_audit().await {
                    tracing::warn!(error = %e, "chaining the audit log failed");
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = &mut audit_stopped => return,
                }
            }
        }
    });
    // Writes other nodes make reach this node's response cache through the change-event log.
    let (cache_stop, cache_stopped) = tokio::sync::oneshot::channel::<()>();
    let cache_task = tokio::spawn(follow_other_nodes(
        store.clone(),
        prepared.content.schema().clone(),
        cache_stopped,
    ));
    // The indexer applies recorded changes (those left by a crash first) until the server stops.
    let (index_stop, index_stopped) = tokio::sync::oneshot::channel::<()>();
    let index_task = tokio::spawn(prepared.search.clone().run(async move {
        let _ = index_stopped.await;
    }));
    let accounts = prepared.accounts.clone();
    let state = api::AppState::new(
        prepared.content,
        prepared.accounts,
        prepared.search,
        prepared.media,
        config,
    );
    let limits = connection_limits(&state.config);
    state.set_ready();
    let app = api::app(state);
    let served = api::server::run(
        acceptor,
        app,
        limits,
        shutdown,
        std::time::Duration::from_secs(30),
    )
    .await;
    accounts.finish_background().await;
    drop(accounts);
    let _ = mail_stop.send(());
    let _ = index_stop.send(());
    let _ = audit_stop.send(());
    let _ = cache_stop.send(());
    let _ = cache_task.await;
    let _ = mail_task.await;
    let _ = index_task.await;
    let _ = audit_task.await;
    // The app (and every handle it held) is gone: close the database for good.
    store.close().await;
    tracing::info!("stopped");
    Ok(served?)
}

/// Follows the change-event log from now on and marks what other nodes changed as changed
/// here too, so this node's response cache does not serve it stale (within about a second).
async fn follow_other_nodes(
    store: Store,
    schema: Arc<schema::Schema>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    const BATCH: usize = 1000;
    let mut reader = storage::events::EventReader::from_now();
    loop {
        let mut full = false;
        match reader.next(&store, BATCH).await {
            Ok(events) => {
                full = events.len() == BATCH;
                for e in events
                    .iter()
                    .filter(|e| e.node.as_deref() != Some(store.node()))
                {
                    let family = e.kind.split('.').next().unwrap_or_default();
                    match (family, e.type_id.as_deref().and_then(|t| schema.get(t))) {
                        ("entry", Some(ct)) => store.changed_elsewhere(ct, e.subject.as_deref()),
                        ("media", _) => store.media_changed_elsewhere(),
                        ("role", _) => store.policy_changed(),
                        _ => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "following the change-event log failed"),
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
}

/// The connection limits of `config`, the cap kept below the open-file limit.
fn connection_limits(config: &Config) -> api::server::ConnectionLimits {
    let l = &config.limits;
    let max_connections = api::server::connection_cap(l.max_connections);
    if max_connections < l.max_connections {
        tracing::info!(
            max_connections,
            "connections capped below the open-file limit (raise it with `ulimit -n`)"
        );
    }
    api::server::ConnectionLimits {
        max_connections,
        header_timeout: std::time::Duration::from_secs(l.header_timeout_seconds),
        keep_alive: std::time::Duration::from_secs(l.keep_alive_seconds),
        idle_timeout: std::time::Duration::from_secs(l.idle_timeout_seconds),
    }
}

/// Binds `config.listen` and serves until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<()> {
    raise_open_file_limit();
    let prepared = prepare(&config).await?;
    let acceptor = api::server::bind(config.listen)?;
    for addr in acceptor.local_addr() {
        if let Some(addr) = addr.as_socket_addr() {
            tracing::info!(
                "listening on http://{addr} (delivery API /api/v1, admin API /admin/api/v1, \
                 docs /docs)"
            );
        }
    }
    serve(prepared, config, acceptor, shutdown_signal()).await
}

/// Raises the soft open-file limit to the hard one, as most servers do: every connection is
/// a descriptor, and distributions default the soft limit to 1,024.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            limit.current = limit.maximum;
            if let Err(e) = setrlimit(Resource::Nofile, limit) {
                tracing::debug!(error = %e, "could not raise the open-file limit");
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!(
        "shutting down: finishing in-flight requests (a second SIGTERM or Ctrl-C stops at once)"
    );
    // A second signal does not wait for slow requests: every acknowledged write is already
    // in the store's log, so stopping now loses nothing that was answered.
    tokio::spawn(async {
        let again = async {
            #[cfg(unix)]
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
                return;
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            () = again => {},
        }
        tracing::warn!("second signal: stopping now");
        std::process::exit(130);
    });
}

//! `/healthz` and `/readyz`, declared with poem-openapi so they document themselves.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, OpenApiService};

use super::AppState;

pub struct SystemApi;

#[derive(Object)]
pub struct Health {
    /// `ok`.
    status: String,
}

#[derive(Object)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: String,
    /// The database answers queries.
    database: bool,
    /// Start-up (schema migration) is complete.
    started: bool,
    /// The search index has applied the changes recorded before start-up and every
    /// searchable type has an index.
    search: bool,
    /// Changes recorded but not yet in the search index.
    search_pending: u64,
    /// Age of the oldest of them, in milliseconds.
    search_lag_ms: u64,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Ready to serve traffic.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Not ready: the body says what is missing.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi]
impl SystemApi {
    /// Liveness: the process is up and answering.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".into(),
        })
    }

    /// Readiness: the database is reachable, start-up has finished and the search index has
    /// caught up with the changes recorded before it; the search backlog and its age are
    /// reported too.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> ReadyResponse {
        let started = state.ready.load(Ordering::SeqCst);
        let database = state.content.store().ping().await;
        let search = state.search.ready();
        let (search_pending, search_lag_ms) = match state.search.status().await {
            Ok(s) => (s.pending, s.lag_ms),
            Err(_) => (0, 0),
        };
        let ready = started && database && search;
        let body = Readiness {
            status: if ready { "ready" } else { "not_ready" }.into(),
            database,
            started,
            search,
            search_pending,
            search_lag_ms,
        };
        if ready {
            ReadyResponse::Ready(Json(body))
        } else {
            ReadyResponse::NotReady(Json(body))
        }
    }
}

pub fn service() -> OpenApiService<(SystemApi, super::media::MediaBytesApi), ()> {
    OpenApiService::new(
        (SystemApi, super::media::MediaBytesApi),
        "Folio",
        env!("CARGO_PKG_VERSION"),
    )
}

pub fn routes() -> poem::Route {
    let service = service();
    let spec = service.spec();
    poem::Route::new().nest("/", super::methods::documented(service, &spec, ""))
}

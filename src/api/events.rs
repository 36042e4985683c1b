//! `/admin/api/v1/events`: the change-event log, oldest first, for administrators and for
//! systems outside Folio that follow it (pass `meta.next` back as `after`).

use std::sync::Arc;

use super::methods::get;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, Route, handler};
use serde_json::{Value, json};

use super::auth::administer;
use super::{
    AppState, invalid_parameter, json_response, page_limit, query_pairs, unknown_parameter,
};
use crate::error::Result;
use crate::storage::events::{Event, EventFilter};

/// Adds the routes to the admin API's router.
pub fn add_routes(route: Route) -> Route {
    route.at("/events", get(list_events))
}

/// `?kind=entry.published|entry&type=article&subject=ID&after=KEY&since=RFC3339&limit=N`.
#[handler]
async fn list_events(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    administer(req, &state)?;
    let mut filter = EventFilter::default();
    let (mut after, mut since, mut limit) = (None, None, 100usize);
    for (k, v) in query_pairs(req)? {
        let bad = |what: &str| invalid_parameter(&k, what);
        let text = |max: usize| {
            (!v.is_empty() && v.len() <= max)
                .then(|| v.clone())
                .ok_or_else(|| bad(&format!("1 to {max} characters")))
        };
        match k.as_str() {
            "kind" => filter.kind = Some(text(64)?),
            "type" => filter.type_id = Some(text(64)?),
            "subject" => filter.subject = Some(text(64)?),
            "after" => {
                after = Some(
                    ulid::Ulid::from_string(&v)
                        .map_err(|_| bad("an event key (`meta.next` of a page)"))?
                        .to_string(),
                );
            }
            "since" => {
                let t = chrono::DateTime::parse_from_rfc3339(&v)
                    .map_err(|_| bad("an RFC 3339 date and time, like 2026-12-06T08:00:00Z"))?;
                let ms =
                    u64::try_from(t.timestamp_millis()).map_err(|_| bad("a moment after 1970"))?;
                since = Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms));
            }
            "limit" => limit = page_limit(&k, &v, 1000)?,
            _ => return Err(unknown_parameter(&k, "the event log")),
        }
    }
    let page = state
        .content
        .store()
        .list_events(&filter, after.as_deref(), since, limit)
        .await?;
    let data: Vec<Value> = page.events.iter().map(event_json).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": data, "meta": { "next": page.next } }),
    ))
}

fn event_json(e: &Event) -> Value {
    json!({
        "key": e.key,
        "kind": e.kind,
        "type": e.type_id,
        "subject": e.subject,
        "locale": e.locale,
        "actor": e.actor,
        "version": e.version,
        "status": e.status,
        "at": e.at,
        "changed": e.changed,
        "node": e.node,
    })
}

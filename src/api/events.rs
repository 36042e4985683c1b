//! `/admin/api/v1/events`: the change-event log, oldest first, for administrators and for
//! systems outside Folio that follow it (pass `meta.next` back as `after`). Declared with
//! poem-openapi.

use std::sync::Arc;

use poem::Request;
use poem::web::Data as State;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::AppState;
use super::oai::{Admin, AdminToken, Failure, Tag, statuses};
use super::{invalid_parameter, only_parameters};
use crate::storage::events::{Event, EventFilter};

statuses! {
    ListFails = [400, 401, 403];
}

/// One change, as the log holds it.
#[derive(Object)]
#[oai(rename = "ChangeEvent")]
struct ChangeEvent {
    /// The event's key (a ULID): events are read in its order.
    key: String,
    /// `entry.created`, `entry.published`, `media.updated`, `user.created`, `type.migrated`, ...
    kind: String,
    /// The content type, for entries and content-type changes.
    #[oai(rename = "type", nullable)]
    type_id: Option<String>,
    /// The id of what changed.
    #[oai(nullable)]
    subject: Option<String>,
    #[oai(nullable)]
    locale: Option<String>,
    /// Who: `user:…`, `token:…`, `system`, `cli`.
    #[oai(nullable)]
    actor: Option<String>,
    /// The entry's version after the change (none after a delete).
    #[oai(nullable)]
    version: Option<u64>,
    /// The entry's status after the change.
    #[oai(nullable)]
    status: Option<String>,
    at: String,
    /// The names of the fields that changed.
    changed: Vec<String>,
    /// The server process that made the change.
    #[oai(nullable)]
    node: Option<String>,
}

impl From<Event> for ChangeEvent {
    fn from(e: Event) -> Self {
        ChangeEvent {
            key: e.key,
            kind: e.kind,
            type_id: e.type_id,
            subject: e.subject,
            locale: e.locale,
            actor: e.actor,
            version: e.version,
            status: e.status,
            at: e.at,
            changed: e.changed,
            node: e.node,
        }
    }
}

#[derive(Object)]
struct EventPageMeta {
    /// The last key read: pass it as `after` to go on.
    #[oai(nullable)]
    next: Option<String>,
}

/// A page of the log.
#[derive(Object)]
struct EventPage {
    data: Vec<ChangeEvent>,
    meta: EventPageMeta,
}

pub struct EventsApi;

#[OpenApi(tag = "Tag::ChangeEvents")]
impl EventsApi {
    /// The change-event log, oldest first: one event per change to an entry, a media item or
    /// folder, a user, a custom role or an API token, and one per content type whose stored
    /// entries a content-type change rewrote (`type.migrated`). A page reads at most 5,000
    /// events, so it may hold fewer than `limit` and still have a `meta.next` (admins).
    #[oai(path = "/events", method = "get", operation_id = "events")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn list_events(
        &self,
        _auth: AdminToken,
        _admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// Only this kind (`entry.published`), or this family of kinds (`entry`).
        #[oai(validator(min_length = 1, max_length = 64))]
        kind: Query<Option<String>>,
        /// Only events of this content type.
        #[oai(name = "type", validator(min_length = 1, max_length = 64))]
        type_id: Query<Option<String>>,
        /// Only events about this id.
        #[oai(validator(min_length = 1, max_length = 64))]
        subject: Query<Option<String>>,
        /// Events after this key (`meta.next` of the page before).
        #[oai(validator(pattern = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"))]
        after: Query<Option<String>>,
        /// Events from this moment on (RFC 3339).
        since: Query<Option<chrono::DateTime<chrono::FixedOffset>>>,
        /// How many events (1–1000, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<EventPage>, Failure<ListFails>> {
        only_parameters(
            req,
            &["kind", "type", "subject", "after", "since", "limit"],
            "the event log",
        )?;
        let after = match after.0 {
            Some(key) => Some(
                ulid::Ulid::from_string(&key)
                    .map_err(|_| {
                        invalid_parameter("after", "an event key (`meta.next` of a page)")
                    })?
                    .to_string(),
            ),
            None => None,
        };
        // Every event is later than 1970: an earlier `since` is the log's start.
        let since = since.0.map(|t| {
            let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)
        });
        let filter = EventFilter {
            kind: kind.0,
            type_id: type_id.0,
            subject: subject.0,
        };
        let page = state
            .content
            .store()
            .list_events(
                &filter,
                after.as_deref(),
                since,
                limit.0.unwrap_or(100) as usize,
            )
            .await?;
        Ok(Json(EventPage {
            data: page.events.into_iter().map(Into::into).collect(),
            meta: EventPageMeta { next: page.next },
        }))
    }
}

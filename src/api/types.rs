//! `/admin/api/v1/types`: the content types, declared with poem-openapi so the operations,
//! the bearer scheme and every error status are in the admin document.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde::Deserialize;

use super::AppState;
use super::oai::{AdminToken, Failure, JsonBody, Staff, Tag, statuses};
use crate::access::{Action, Policy, Principal};
use crate::schema::{Audience, ContentType, Kind, json_schema};

statuses! {
    ListFails = [401, 403];
    ReadFails = [401, 403, 404];
    PreviewFails = [400, 401, 403];
}

#[derive(Object)]
pub struct AdminSettings {
    /// The field that titles an entry in lists (absent: the id).
    #[oai(skip_serializing_if_is_none)]
    title_field: Option<String>,
    /// Columns of the admin list.
    list_columns: Vec<String>,
}

/// A content type as its file declares it.
#[derive(Object)]
pub struct ContentTypeSummary {
    /// API name: `/api/v1/content/{id}`.
    id: String,
    /// `collection` or `single`.
    kind: String,
    name: String,
    #[oai(skip_serializing_if_is_none)]
    description: Option<String>,
    /// Draft/publish workflow.
    drafts: bool,
    /// Locales, the first being the default.
    locales: Vec<String>,
    search: bool,
    admin: AdminSettings,
    /// What the caller may do with the type's entries.
    permissions: TypePermissions,
}

/// The caller's permissions on a type, so a client offers only what the server allows (the
/// server checks every request anyway).
#[derive(Object)]
pub struct TypePermissions {
    /// Of `read`, `create`, `update`, `delete`, `publish`.
    actions: Vec<String>,
    /// Only the entries the caller created.
    own_entries_only: bool,
    /// Fields the caller neither sees nor writes.
    hidden_fields: Vec<String>,
    /// Fields the caller sees but may not change.
    read_only_fields: Vec<String>,
}

#[derive(Object)]
pub struct ContentTypeDetail {
    #[oai(flatten)]
    summary: ContentTypeSummary,
    /// JSON Schema of the entry's `fields` object, in field order.
    schema: serde_json::Value,
}

#[derive(Object)]
pub struct TypeList {
    data: Vec<ContentTypeSummary>,
}

#[derive(Object)]
pub struct TypeDetail {
    data: ContentTypeDetail,
}

const ACTIONS: [Action; 5] = [
    Action::Read,
    Action::Create,
    Action::Update,
    Action::Delete,
    Action::Publish,
];

fn permissions(policy: &Policy, who: &Principal, ct: &ContentType) -> TypePermissions {
    let mut p = TypePermissions {
        actions: Vec::new(),
        own_entries_only: false,
        hidden_fields: Vec::new(),
        read_only_fields: Vec::new(),
    };
    for action in ACTIONS {
        let Ok(permit) = policy.permit(who, ct, action) else {
            continue;
        };
        p.actions.push(action.as_str().to_owned());
        if action == Action::Read {
            p.own_entries_only = permit.owner().is_some();
            p.hidden_fields = permit.hidden().to_vec();
            p.read_only_fields = permit
                .restricted()
                .filter(|f| !permit.hidden().contains(f))
                .cloned()
                .collect();
        }
    }
    p
}

fn summary(ct: &ContentType, permissions: TypePermissions) -> ContentTypeSummary {
    ContentTypeSummary {
        id: ct.id.clone(),
        kind: match ct.kind {
            Kind::Collection => "collection",
            Kind::Single => "single",
        }
        .into(),
        name: ct.name.clone(),
        description: ct.description.clone(),
        drafts: ct.drafts,
        locales: ct.locales.clone(),
        search: ct.search,
        admin: AdminSettings {
            title_field: ct.admin.title_field.clone(),
            list_columns: ct.admin.list_columns.clone(),
        },
        permissions,
    }
}

pub struct TypesApi;

#[OpenApi(tag = "Tag::ContentTypes")]
impl TypesApi {
    /// List content types.
    #[oai(path = "/types", method = "get", operation_id = "list_types")]
    async fn list_types(
        &self,
        _auth: AdminToken,
        _staff: Staff,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> Result<Json<TypeList>, Failure<ListFails>> {
        let who = &super::auth::caller(req).principal;
        Ok(Json(TypeList {
            data: state
                .content
                .schema()
                .types()
                .map(|ct| summary(ct, permissions(&state.policy, who, ct)))
                .collect(),
        }))
    }

    /// One content type with the JSON Schema of its fields, for generating forms.
    #[oai(path = "/types/:type", method = "get", operation_id = "get_type")]
    async fn get_type(
        &self,
        _auth: AdminToken,
        _staff: Staff,
        req: &Request,
        state: Data<&Arc<AppState>>,
        /// The type's id.
        #[oai(name = "type")]
        type_id: Path<String>,
    ) -> Result<Json<TypeDetail>, Failure<ReadFails>> {
        let ct = state.content.content_type(&type_id)?;
        let who = &super::auth::caller(req).principal;
        Ok(Json(TypeDetail {
            data: ContentTypeDetail {
                summary: summary(&ct, permissions(&state.policy, who, &ct)),
                schema: json_schema(&ct, Audience::Admin),
            },
        }))
    }

    /// Markdown rendered as the delivery API renders it, for an editor's live preview.
    #[oai(
        path = "/markdown/preview",
        method = "post",
        operation_id = "preview_markdown",
        tag = "Tag::Editor"
    )]
    async fn preview_markdown(
        &self,
        _auth: AdminToken,
        _staff: Staff,
        // 1 MiB of characters may take 4 MiB as UTF-8 (and more escaped); the server's own
        // body limit (`limits.max_body_bytes`) applies first.
        body: JsonBody<MarkdownPreviewBody, { 6 * 1024 * 1024 }>,
    ) -> Result<Json<MarkdownPreviewAnswer>, Failure<PreviewFails>> {
        let markdown = body.0.markdown;
        // Large documents render in well under a millisecond per 10 kB; still off the runtime.
        let html = tokio::task::spawn_blocking(move || crate::markdown::to_html(&markdown))
            .await
            .unwrap_or_default();
        Ok(Json(MarkdownPreviewAnswer {
            data: MarkdownPreview { html },
        }))
    }
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct MarkdownPreviewBody {
    /// Markdown, as a `markdown` field holds it (at most 1 MiB).
    #[oai(validator(max_length = 1048576))]
    markdown: String,
}

#[derive(Object)]
pub struct MarkdownPreview {
    /// The HTML the delivery API's `render=html` gives for it, sanitised.
    html: String,
}

#[derive(Object)]
pub struct MarkdownPreviewAnswer {
    data: MarkdownPreview,
}

pub const PREFIX: &str = "/admin/api/v1";

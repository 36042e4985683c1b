//! The JSON Schema of an entry's `fields` object, derived from its content type: for the admin
//! audience the form and request-body schema, for the delivery audience the response schema
//! of the public API.
//!
//! It sticks to what OpenAPI 3.0 understands (`nullable` instead of type arrays, no `$defs`)
//! and adds `x-folio-type` (the field type), `x-folio-target` (a relation's target type) and
//! `x-folio-localized` where the admin UI needs more than JSON Schema can say. It describes
//! what `validate` accepts, sharing its length defaults and id shapes so the two cannot drift;
//! it validates nothing itself and knows nothing of HTTP.

use serde_json::{Map, Value, json};

use super::validate::{ID_PATTERN, MAX_ITEMS, UID_PATTERN, max_length};
use super::{ContentType, Field, FieldType};

/// Which API is asking or answering — the one audience type: what exists for a query, which
/// document of the search index answers, and which schema a document describes follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Editors and the admin API: every field, localized fields as one value per locale,
    /// relations and media as ids.
    Admin,
    /// The public API: no `private` fields, one locale resolved, relations either ids or the
    /// related entries that `populate` put in their place.
    Delivery,
}

/// The schema of the `fields` object of a `ct` entry, properties in field order.
pub fn json_schema(ct: &ContentType, audience: Audience) -> Value {
    let mut schema = Map::new();
    schema.insert("title".into(), Value::String(ct.name.clone()));
    if let Some(description) = &ct.description {
        schema.insert("description".into(), Value::String(description.clone()));
    }
    schema.extend(object_schema(&ct.fields, &ct.locales, audience));
    Value::Object(schema)
}

fn object_schema(fields: &[Field], locales: &[String], audience: Audience) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in fields {
        if audience == Audience::Delivery && field.private {
            continue;
        }
        if is_required(field, audience) {
            required.push(Value::String(field.name.clone()));
        }
        properties.insert(
            field.name.clone(),
            Value::Object(field_schema(field, locales, audience)),
        );
    }
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    // Input with unknown keys is refused (`unknown_field`); output may grow new fields.
    if audience == Audience::Admin {
        schema.insert("additionalProperties".into(), false.into());
    }
    schema
}

/// Whether the key must be present: in admin input, unless a default or the content service
/// fills it; in delivery output, whenever the field is required.
fn is_required(field: &Field, audience: Audience) -> bool {
    match audience {
        Audience::Admin => {
            field.rules.required
                && field.default.is_none()
                && !matches!(field.ty, FieldType::Uid { from: Some(_) })
        }
        Audience::Delivery => field.rules.required,
    }
}

fn field_schema(field: &Field, locales: &[String], audience: Audience) -> Map<String, Value> {
    let mut schema = Map::new();
    if let Some(label) = &field.label {
        schema.insert("title".into(), Value::String(label.clone()));
    }
    if field.localized && audience == Audience::Admin {
        let mut per_locale = Map::new();
        for (i, locale) in locales.iter().enumerate() {
            let mut value = value_schema(field, locales, audience);
            // The default and `required` concern the default locale only (as in `validate`).
            if i == 0 {
                if let Some(default) = &field.default {
                    value.insert("default".into(), default.clone());
                }
                if !field.rules.required {
                    value.insert("nullable".into(), true.into());
                }
            } else {
                value.insert("nullable".into(), true.into());
            }
            per_locale.insert(locale.clone(), Value::Object(value));
        }
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(per_locale));
        if let (true, Some(first)) = (field.rules.required, locales.first()) {
            schema.insert("required".into(), json!([first]));
        }
        schema.insert("additionalProperties".into(), false.into());
        if !field.rules.required {
            schema.insert("nullable".into(), true.into());
        }
        schema.insert("x-folio-localized".into(), true.into());
    } else {
        schema.extend(value_schema(field, locales, audience));
        if let Some(default) = &field.default {
            schema.insert("default".into(), default.clone());
        }
        if !field.rules.required {
            schema.insert("nullable".into(), true.into());
        }
    }
    // The field's own words win over a value schema's generic ones ("The id of ...").
    if let Some(description) = &field.description {
        schema.insert("description".into(), Value::String(description.clone()));
    }
    schema.insert("x-folio-type".into(), field.ty.name().into());
    // What a form needs beyond JSON Schema: the related type, the uid's source field, the
    // media kinds a picker offers.
    match &field.ty {
        FieldType::Relation { target, .. } => {
            schema.insert("x-folio-target".into(), Value::String(target.clone()));
        }
        FieldType::Uid { from: Some(from) } if audience == Audience::Admin => {
            schema.insert("x-folio-from".into(), Value::String(from.clone()));
        }
        FieldType::Media { accept, .. } if audience == Audience::Admin && !accept.is_empty() => {
            schema.insert("x-folio-accept".into(), json!(accept));
        }
        _ => {}
    }
    schema
}

/// The schema of one value of the field (one locale's value, for a localized field).
fn value_schema(field: &Field, locales: &[String], audience: Audience) -> Map<String, Value> {
    let rules = &field.rules;
    let mut s = Map::new();
    match &field.ty {
        FieldType::Text
        | FieldType::LongText
        | FieldType::Markdown
        | FieldType::Uid { .. }
        | FieldType::Email
        | FieldType::Url => {
            s.insert("type".into(), "string".into());
            match field.ty {
                FieldType::Email => {
                    s.insert("format".into(), "email".into());
                }
                FieldType::Url => {
                    s.insert("format".into(), "uri".into());
                }
                _ => {}
            }
            if let Some(min) = rules.min_length {
                s.insert("minLength".into(), min.into());
            }
            if let Some(max) = max_length(field) {
                s.insert("maxLength".into(), max.into());
            }
            let user_pattern = rules
                .pattern
                .as_ref()
                .map(|p| Value::String(p.source.clone()));
            if matches!(field.ty, FieldType::Uid { .. }) {
                s.insert("pattern".into(), UID_PATTERN.into());
                // One schema holds one `pattern`; a second one goes in an `allOf`.
                if let Some(pattern) = user_pattern {
                    s.insert("allOf".into(), json!([{ "pattern": pattern }]));
                }
            } else if let Some(pattern) = user_pattern {
                s.insert("pattern".into(), pattern);
            }
        }
        FieldType::Enum { values } => {
            s.insert("type".into(), "string".into());
            s.insert("enum".into(), json!(values));
        }
        FieldType::Integer | FieldType::Float => {
            let (ty, format) = match field.ty {
                FieldType::Integer => ("integer", "int64"),
                _ => ("number", "double"),
            };
            s.insert("type".into(), ty.into());
            s.insert("format".into(), format.into());
            if let Some(min) = rules.min {
                s.insert("minimum".into(), number(min));
            }
            if let Some(max) = rules.max {
                s.insert("maximum".into(), number(max));
            }
        }
        FieldType::Boolean => {
            s.insert("type".into(), "boolean".into());
        }
        FieldType::Datetime => {
            s.insert("type".into(), "string".into());
            s.insert("format".into(), "date-time".into());
        }
        FieldType::Date => {
            s.insert("type".into(), "string".into());
            s.insert("format".into(), "date".into());
        }
        // Any JSON value: the empty schema.
        FieldType::Json => {}
        FieldType::Relation { target, many } => {
            let item = reference(
                audience,
                &format!("an entry of type `{target}`"),
                &format!("The `{target}` entry"),
            );
            s.extend(one_or_many(item, *many, field));
        }
        FieldType::Media { many, .. } => {
            let item = reference(audience, "a media item", "The media item");
            s.extend(one_or_many(item, *many, field));
        }
        FieldType::Group { fields } => s.extend(object_schema(fields, locales, audience)),
        FieldType::Repeater { fields } => {
            let item = Value::Object(object_schema(fields, locales, audience));
            s.extend(array_of(item, field));
        }
    }
    s
}

/// One related entry or media item: its id, or on delivery also the populated object.
/// `what` names one in a sentence ("an entry of type `tag`"), `populated` starts one.
fn reference(audience: Audience, what: &str, populated: &str) -> Map<String, Value> {
    let id = json!({
        "type": "string",
        "description": format!("The id of {what}."),
        "minLength": 26,
        "maxLength": 26,
        "pattern": ID_PATTERN,
    });
    match (audience, id) {
        (Audience::Admin, Value::Object(id)) => id,
        (_, id) => {
            let populated = json!({
                "type": "object",
                "description": format!("{populated}, when `populate` names this field."),
            });
            Map::from_iter([("oneOf".to_owned(), json!([id, populated]))])
        }
    }
}

fn one_or_many(item: Map<String, Value>, many: bool, field: &Field) -> Map<String, Value> {
    if many {
        let mut s = array_of(Value::Object(item), field);
        s.insert("uniqueItems".into(), true.into());
        s
    } else {
        item
    }
}

fn array_of(item: Value, field: &Field) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert("type".into(), "array".into());
    s.insert("items".into(), item);
    if let Some(min) = field.rules.min {
        s.insert("minItems".into(), number(min));
    }
    #[expect(clippy::cast_precision_loss, reason = "MAX_ITEMS is 1000")]
    let cap = MAX_ITEMS as f64;
    let max = field.rules.max.map_or(cap, |max| max.min(cap));
    s.insert("maxItems".into(), number(max));
    s
}

/// A bound as JSON: whole numbers without a fraction (`5`, not `5.0`).
fn number(n: f64) -> Value {
    // ±2^53: every whole f64 in this range converts exactly.
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        #[expect(clippy::cast_possible_truncation, reason = "whole and within ±2^53")]
        let i = n as i64;
        Value::from(i)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::schema::load_str;

    const TYPE: &str = r#"
id = "article"
name = "Article"
description = "A story"
locales = ["en", "fr"]

[[fields]]
name = "title"
label = "Title"
type = "text"
required = true
localized = true
max_length = 200

[[fields]]
name = "slug"
type = "uid"
from = "title"
required = true
pattern = "^[a-z]"

[[fields]]
name = "rating"
type = "integer"
min = 1
max = 5
required = true

[[fields]]
name = "price"
type = "float"
min = 0.5

[[fields]]
name = "kind"
type = "enum"
values = ["news", "opinion"]
default = "news"
required = true

[[fields]]
name = "contact"
type = "email"
description = "Who to write to"

[[fields]]
name = "site"
type = "url"

[[fields]]
name = "day"
type = "date"

[[fields]]
name = "at"
type = "datetime"

[[fields]]
name = "author"
type = "relation"
target = "author"

[[fields]]
name = "tags"
type = "relation"
target = "tag"
many = true
max = 10

[[fields]]
name = "cover"
type = "media"
accept = ["image/*"]
description = "Shown above the story"

[[fields]]
name = "notes"
type = "long_text"
private = true

[[fields]]
name = "extra"
type = "json"

[[fields]]
name = "blocks"
type = "repeater"
min = 1

[[fields.fields]]
name = "heading"
type = "text"
required = true
max_length = 80

[[fields.fields]]
name = "secret"
type = "boolean"
private = true
"#;

    fn schema(audience: Audience) -> Value {
        let ct = load_str(Path::new("article.toml"), TYPE).expect("valid type");
        json_schema(&ct, audience)
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    const ID: &str = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$";

    fn id_schema(what: &str) -> Value {
        json!({
            "type": "string",
            "description": format!("The id of {what}."),
            "minLength": 26,
            "maxLength": 26,
            "pattern": ID,
        })
    }

    #[test]
    fn admin_lists_every_field_in_order_with_what_a_create_must_send() {
        let s = schema(Audience::Admin);
        assert_eq!(s["type"], "object");
        assert_eq!(s["title"], "Article");
        assert_eq!(s["description"], "A story");
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(
            keys(&s["properties"]),
            [
                "title", "slug", "rating", "price", "kind", "contact", "site", "day", "at",
                "author", "tags", "cover", "notes", "extra", "blocks"
            ]
        );
        // `slug` is generated and `kind` has a default: neither must be sent.
        assert_eq!(s["required"], json!(["title", "rating"]));
    }

    #[test]
    fn admin_localized_field_is_an_object_of_locales() {
        let s = schema(Audience::Admin);
        assert_eq!(
            s["properties"]["title"],
            json!({
                "title": "Title",
                "type": "object",
                "properties": {
                    "en": { "type": "string", "maxLength": 200 },
                    "fr": { "type": "string", "maxLength": 200, "nullable": true },
                },
                "required": ["en"],
                "additionalProperties": false,
                "x-folio-localized": true,
                "x-folio-type": "text",
            })
        );
    }

    #[test]
    fn scalar_fields() {
        let s = schema(Audience::Admin);
        let p = &s["properties"];
        assert_eq!(
            p["slug"],
            json!({
                "type": "string",
                "maxLength": 200,
                "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$",
                "allOf": [{ "pattern": "^[a-z]" }],
                "x-folio-type": "uid",
                "x-folio-from": "title",
            })
        );
        assert_eq!(
            p["rating"],
            json!({ "type": "integer", "format": "int64", "minimum": 1, "maximum": 5,
                    "x-folio-type": "integer" })
        );
        assert_eq!(
            p["price"],
            json!({ "type": "number", "format": "double", "minimum": 0.5, "nullable": true,
                    "x-folio-type": "float" })
        );
        assert_eq!(
            p["kind"],
            json!({ "type": "string", "enum": ["news", "opinion"], "default": "news",
                    "x-folio-type": "enum" })
        );
        assert_eq!(
            p["contact"],
            json!({ "description": "Who to write to", "type": "string", "format": "email",
                    "maxLength": 254, "nullable": true, "x-folio-type": "email" })
        );
        assert_eq!(p["site"]["format"], "uri");
        assert_eq!(p["day"]["format"], "date");
        assert_eq!(p["at"]["format"], "date-time");
        assert_eq!(p["notes"]["maxLength"], 1_000_000);
        assert_eq!(
            p["extra"],
            json!({ "nullable": true, "x-folio-type": "json" })
        );
    }

    #[test]
    fn admin_relations_and_media_are_ids() {
        let s = schema(Audience::Admin);
        let p = &s["properties"];
        let mut author = id_schema("an entry of type `author`");
        author["nullable"] = json!(true);
        author["x-folio-type"] = json!("relation");
        author["x-folio-target"] = json!("author");
        assert_eq!(p["author"], author);
        assert_eq!(
            p["tags"],
            json!({
                "type": "array",
                "items": id_schema("an entry of type `tag`"),
                "maxItems": 10,
                "uniqueItems": true,
                "nullable": true,
                "x-folio-type": "relation",
                "x-folio-target": "tag",
            })
        );
        assert_eq!(p["cover"]["pattern"], ID);
        assert_eq!(p["cover"]["x-folio-type"], "media");
        assert_eq!(p["cover"]["x-folio-accept"], json!(["image/*"]));
        // The field's own description, not the id's generic one.
        assert_eq!(p["cover"]["description"], "Shown above the story");
        assert_eq!(p["slug"]["x-folio-from"], "title");
    }

    #[test]
    fn repeater_items_are_objects_with_their_own_required() {
        let s = schema(Audience::Admin);
        let blocks = &s["properties"]["blocks"];
        assert_eq!(blocks["type"], "array");
        assert_eq!(blocks["minItems"], 1);
        assert_eq!(blocks["maxItems"], 1000, "the hard cap is documented");
        assert_eq!(blocks["items"]["required"], json!(["heading"]));
        assert_eq!(keys(&blocks["items"]["properties"]), ["heading", "secret"]);
        assert_eq!(blocks["items"]["properties"]["heading"]["maxLength"], 80);
    }

    #[test]
    fn delivery_hides_private_fields_and_resolves_locales() {
        let s = schema(Audience::Delivery);
        let p = &s["properties"];
        assert!(p.get("notes").is_none());
        assert_eq!(keys(&p["blocks"]["items"]["properties"]), ["heading"]);
        assert!(s.get("additionalProperties").is_none());
        assert_eq!(
            p["title"],
            json!({ "title": "Title", "type": "string", "maxLength": 200, "x-folio-type": "text" })
        );
        // Output always carries required fields, generated ones included.
        assert_eq!(s["required"], json!(["title", "slug", "rating", "kind"]));
    }

    #[test]
    fn delivery_relations_may_be_populated() {
        let s = schema(Audience::Delivery);
        let p = &s["properties"];
        assert_eq!(
            p["author"],
            json!({
                "oneOf": [
                    id_schema("an entry of type `author`"),
                    { "type": "object",
                      "description": "The `author` entry, when `populate` names this field." },
                ],
                "nullable": true,
                "x-folio-type": "relation",
                "x-folio-target": "author",
            })
        );
        assert_eq!(p["tags"]["items"]["oneOf"][1]["type"], "object");
        assert_eq!(p["tags"]["maxItems"], 10);
        assert_eq!(p["cover"]["oneOf"][0]["pattern"], ID);
    }
}

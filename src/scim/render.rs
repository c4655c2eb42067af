//! Builds the response representation of a resource: stored JSON plus `id`, `meta` and the
//! derived `groups` / `members` (RFC 7643 §3.1, §4.1.2, §4.2).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::etag::ETag;
use super::schema::ResourceKind;

/// The bookkeeping of a stored resource that its response shows.
pub struct ResourceMeta<'a> {
    pub kind: ResourceKind,
    pub id: &'a str,
    pub version: i64,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

/// A group a user belongs to, or a member of a group, as it appears in a response.
pub struct Reference<'a> {
    pub id: &'a str,
    pub kind: ResourceKind,
    pub display: Option<&'a str>,
}

pub fn resource_type_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

pub fn endpoint(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "Users",
        ResourceKind::Group => "Groups",
    }
}

/// Absolute URL of a resource under `base_url` (the `/scim/v2` root).
pub fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{}/{}/{id}", base_url.trim_end_matches('/'), endpoint(kind))
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The full response JSON (before `attributes` projection). `relations` are a user's groups or
/// a group's members; `None` leaves the attribute out.
pub fn render(base_url: &str, meta: &ResourceMeta<'_>, data: &Value, relations: Option<&[Reference<'_>]>) -> Value {
    render_owned(base_url, meta, data.clone(), relations)
}

/// [`render`] of stored data the caller no longer needs: its values move into the result.
pub fn render_owned(
    base_url: &str,
    meta: &ResourceMeta<'_>,
    data: Value,
    relations: Option<&[Reference<'_>]>,
) -> Value {
    let mut out = Map::new();
    let mut body = match data {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    out.insert("schemas".into(), body.remove("schemas").unwrap_or_else(|| json!([])));
    out.insert("id".into(), Value::String(meta.id.to_string()));
    if let Some(external_id) = body.remove("externalId") {
        out.insert("externalId".into(), external_id);
    }
    for (key, value) in body {
        out.insert(key, value);
    }
    if let Some(relations) = relations {
        let key = match meta.kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        let items: Vec<Value> = relations
            .iter()
            .map(|r| {
                let mut item = Map::new();
                item.insert("value".into(), Value::String(r.id.to_string()));
                item.insert("$ref".into(), Value::String(location(base_url, r.kind, r.id)));
                if let Some(display) = r.display {
                    item.insert("display".into(), Value::String(display.to_string()));
                }
                let kind = match meta.kind {
                    ResourceKind::User => "direct",
                    ResourceKind::Group => resource_type_name(r.kind),
                };
                item.insert("type".into(), Value::String(kind.to_string()));
                Value::Object(item)
            })
            .collect();
        if !items.is_empty() || meta.kind == ResourceKind::Group {
            out.insert(key.into(), Value::Array(items));
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": resource_type_name(meta.kind),
            "created": timestamp(meta.created),
            "lastModified": timestamp(meta.last_modified),
            "location": location(base_url, meta.kind, meta.id),
            "version": ETag::of(meta.version).as_str(),
        }),
    );
    Value::Object(out)
}

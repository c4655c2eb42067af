//! The discovery documents: `/ServiceProviderConfig` and `/ResourceTypes` (RFC 7643 §5, §6),
//! generated from what the server actually supports.

use serde_json::{json, Value};

use super::list::PageLimits;
use super::render::{endpoint, resource_type_name};
use super::schema::{ResourceKind, SchemaRegistry};

/// What the running server supports, as advertised to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub patch: bool,
    pub bulk: Option<BulkLimits>,
    pub sort: bool,
    pub etag: bool,
    pub page: PageLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: u64,
    pub max_payload_size: u64,
}

pub fn service_provider_config(base_url: &str, caps: &Capabilities) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": format!("{}/docs", origin(base_url)),
        "patch": {"supported": caps.patch},
        "bulk": {
            "supported": caps.bulk.is_some(),
            "maxOperations": caps.bulk.map_or(0, |b| b.max_operations),
            "maxPayloadSize": caps.bulk.map_or(0, |b| b.max_payload_size),
        },
        "filter": {"supported": true, "maxResults": caps.page.max_count},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.page.default_count,
            "maxPageSize": caps.page.max_count,
            "cursorTimeout": caps.page.cursor_timeout_secs,
        },
        "changePassword": {"supported": true},
        "sort": {"supported": caps.sort},
        "etag": {"supported": caps.etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer JWT in the Authorization header",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base_url.trim_end_matches('/')),
        },
    })
}

/// The base URL without its `/scim/v2` suffix.
fn origin(base_url: &str) -> &str {
    base_url.trim_end_matches('/').trim_end_matches("/scim/v2")
}

pub fn resource_type(base_url: &str, registry: &SchemaRegistry, kind: ResourceKind) -> Value {
    let schema = registry.resource(kind);
    let name = resource_type_name(kind);
    let extensions: Vec<Value> =
        schema.extensions.iter().map(|(ext, required)| json!({"schema": ext.id, "required": required})).collect();
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": format!("/{}", endpoint(kind)),
        "description": match kind {
            ResourceKind::User => "User Account",
            ResourceKind::Group => "Group",
        },
        "schema": schema.core.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{name}", base_url.trim_end_matches('/')),
        },
    });
    if !extensions.is_empty() {
        doc["schemaExtensions"] = Value::Array(extensions);
    }
    doc
}

pub const RESOURCE_KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

//! Named OpenAPI schemas of the SCIM wire format. Handlers work on `serde_json::Value` (SCIM
//! attribute names are case-insensitive and extensible); these types document the shapes for
//! generated clients.
#![allow(dead_code, reason = "documentation-only types: never constructed")]

use serde::Serialize;
use utoipa::ToSchema;

/// `meta` of a resource (RFC 7643 §3.1).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[schema(example = "User")]
    pub resource_type: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// Absolute URL of the resource.
    pub location: String,
    /// Weak ETag of the current version, also sent as the `ETag` header.
    #[schema(example = "W/\"1\"")]
    pub version: String,
}

/// A user's name (RFC 7643 §4.1.1).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    pub formatted: Option<String>,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub honorific_prefix: Option<String>,
    pub honorific_suffix: Option<String>,
}

/// An element of a multi-valued attribute such as `emails` or `phoneNumbers` (RFC 7643 §2.4).
#[derive(Serialize, ToSchema)]
pub struct MultiValuedAttribute {
    pub value: Option<String>,
    pub display: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "work")]
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// A postal address (RFC 7643 §4.1.2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub formatted: Option<String>,
    pub street_address: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// A reference to a group or member (`value` is its id).
#[derive(Serialize, ToSchema)]
pub struct ResourceReference {
    pub value: String,
    #[serde(rename = "$ref")]
    pub reference: Option<String>,
    pub display: Option<String>,
    /// `User` or `Group` for members; `direct` for a user's groups.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The enterprise user extension (RFC 7643 §4.3), under its schema URN.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseUser {
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    pub manager: Option<ResourceReference>,
}

/// A SCIM User (RFC 7643 §4.1). Attribute names are case-insensitive on input.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[schema(example = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]))]
    pub schemas: Vec<String>,
    /// Server-assigned UUID (read-only).
    pub id: Option<String>,
    pub external_id: Option<String>,
    /// Unique per tenant, case-insensitive.
    #[schema(example = "bjensen@example.com")]
    pub user_name: String,
    pub name: Option<Name>,
    pub display_name: Option<String>,
    pub nick_name: Option<String>,
    pub profile_url: Option<String>,
    pub title: Option<String>,
    pub user_type: Option<String>,
    pub preferred_language: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub active: Option<bool>,
    /// Write-only: stored as an argon2 hash and never returned.
    pub password: Option<String>,
    pub emails: Option<Vec<MultiValuedAttribute>>,
    pub phone_numbers: Option<Vec<MultiValuedAttribute>>,
    pub ims: Option<Vec<MultiValuedAttribute>>,
    pub photos: Option<Vec<MultiValuedAttribute>>,
    pub addresses: Option<Vec<Address>>,
    /// Read-only, derived from group memberships.
    pub groups: Option<Vec<ResourceReference>>,
    pub entitlements: Option<Vec<MultiValuedAttribute>>,
    pub roles: Option<Vec<MultiValuedAttribute>>,
    pub x509_certificates: Option<Vec<MultiValuedAttribute>>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
    pub enterprise: Option<EnterpriseUser>,
    pub meta: Option<Meta>,
}

/// A SCIM Group (RFC 7643 §4.2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[schema(example = json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]))]
    pub schemas: Vec<String>,
    pub id: Option<String>,
    pub external_id: Option<String>,
    #[schema(example = "Engineering")]
    pub display_name: String,
    pub members: Option<Vec<ResourceReference>>,
    pub meta: Option<Meta>,
}

/// A page of Users (RFC 7644 §3.4.2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserListResponse {
    #[schema(example = json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]))]
    pub schemas: Vec<String>,
    pub total_results: u64,
    /// 1-based index of the first result (index paging; absent with cursor paging).
    pub start_index: Option<u64>,
    pub items_per_page: u64,
    /// The cursor of the next page; absent on the last page (RFC 9865).
    pub next_cursor: Option<String>,
    /// The cursor of the previous page; absent on the first page (RFC 9865).
    pub previous_cursor: Option<String>,
    #[serde(rename = "Resources")]
    pub resources: Vec<User>,
}

/// A page of Groups (RFC 7644 §3.4.2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupListResponse {
    #[schema(example = json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]))]
    pub schemas: Vec<String>,
    pub total_results: u64,
    /// 1-based index of the first result (index paging; absent with cursor paging).
    pub start_index: Option<u64>,
    pub items_per_page: u64,
    /// The cursor of the next page; absent on the last page (RFC 9865).
    pub next_cursor: Option<String>,
    /// The cursor of the previous page; absent on the first page (RFC 9865).
    pub previous_cursor: Option<String>,
    #[serde(rename = "Resources")]
    pub resources: Vec<Group>,
}

/// A generic page of discovery documents.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryListResponse {
    pub schemas: Vec<String>,
    pub total_results: u64,
    pub start_index: u64,
    pub items_per_page: u64,
    #[serde(rename = "Resources")]
    pub resources: Vec<serde_json::Value>,
}

/// `/ServiceProviderConfig` (RFC 7643 §5).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProviderConfig {
    pub schemas: Vec<String>,
    pub documentation_uri: Option<String>,
    pub patch: serde_json::Value,
    pub bulk: serde_json::Value,
    pub filter: serde_json::Value,
    /// Cursor and index paging (RFC 9865 §4): `cursor`, `index`, `defaultPaginationMethod`,
    /// `defaultPageSize`, `maxPageSize`, `cursorTimeout`.
    pub pagination: serde_json::Value,
    pub change_password: serde_json::Value,
    pub sort: serde_json::Value,
    pub etag: serde_json::Value,
    pub authentication_schemes: Vec<serde_json::Value>,
}

/// A resource type description (RFC 7643 §6).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    pub schemas: Vec<String>,
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub description: Option<String>,
    pub schema: String,
    pub schema_extensions: Option<Vec<serde_json::Value>>,
}

/// A schema description (RFC 7643 §7).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub schemas: Vec<String>,
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub attributes: Vec<serde_json::Value>,
}

/// Liveness / readiness answer.
#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: String,
}

/// One PATCH operation (RFC 7644 §3.5.2).
#[derive(Serialize, ToSchema)]
pub struct PatchOperation {
    /// `add`, `remove` or `replace` (any case is accepted).
    #[schema(example = "replace")]
    pub op: String,
    /// Attribute path, e.g. `emails[type eq "work"].value`; optional for add/replace.
    pub path: Option<String>,
    /// The value to add or replace with.
    pub value: Option<serde_json::Value>,
}

/// A PATCH request (`urn:ietf:params:scim:api:messages:2.0:PatchOp`).
#[derive(Serialize, ToSchema)]
pub struct PatchRequest {
    #[schema(example = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]))]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations")]
    pub operations: Vec<PatchOperation>,
}

/// One operation of a bulk request (RFC 7644 §3.7).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequestOperation {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    #[schema(example = "POST")]
    pub method: String,
    /// `/Users` or `/Groups` for POST; `/Users/{id}` or `/Users/bulkId:{bulkId}` for the others.
    #[schema(example = "/Users")]
    pub path: String,
    /// The client's name for the resource a POST creates; other operations refer to it as
    /// `bulkId:<bulkId>`, in paths and in values such as group members.
    #[schema(example = "qwerty")]
    pub bulk_id: Option<String>,
    /// The version a PUT, PATCH or DELETE requires (as `If-Match`); a mismatch fails it with 412.
    #[schema(example = "W/\"1\"")]
    pub version: Option<String>,
    /// What the operation would send alone: a User, a Group or a PatchOp request; none for DELETE.
    pub data: Option<serde_json::Value>,
}

/// A bulk request (`urn:ietf:params:scim:api:messages:2.0:BulkRequest`, RFC 7644 §3.7).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    #[schema(example = json!(["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]))]
    pub schemas: Vec<String>,
    /// Stop after this many failed operations; without it every operation runs.
    #[schema(example = 1)]
    pub fail_on_errors: Option<u64>,
    /// At most `bulk.maxOperations` of `/ServiceProviderConfig`.
    #[serde(rename = "Operations")]
    pub operations: Vec<BulkRequestOperation>,
}

/// The outcome of one operation of a bulk request (RFC 7644 §3.7.3).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkResponseOperation {
    pub method: String,
    pub bulk_id: Option<String>,
    /// URL of the resource created or addressed; absent when a POST failed.
    pub location: Option<String>,
    /// The resource's version after a successful POST, PUT or PATCH.
    pub version: Option<String>,
    /// The HTTP status the operation would have had alone, as a string.
    #[schema(example = "201")]
    pub status: String,
    /// The SCIM error of a failed operation.
    pub response: Option<crate::api::error::ErrorResponse>,
}

/// A bulk response (`urn:ietf:params:scim:api:messages:2.0:BulkResponse`, RFC 7644 §3.7.3).
#[derive(Serialize, ToSchema)]
pub struct BulkResponse {
    #[schema(example = json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]))]
    pub schemas: Vec<String>,
    /// In request order; operations not run because `failOnErrors` was reached are absent.
    #[serde(rename = "Operations")]
    pub operations: Vec<BulkResponseOperation>,
}

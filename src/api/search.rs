//! Listing and searching: `GET /Users`, `GET /Groups` (via `resources`) and
//! `POST /.search`, `/Users/.search`, `/Groups/.search` (RFC 7644 §3.4.2, §3.4.3), with index
//! or cursor paging (RFC 9865).
//!
//! `/.search` at the root lists Users, then Groups, each in the requested order; a filter or
//! `sortBy` attribute that one of them lacks counts as absent there.

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::extract::{ScimBody, SignedPrincipal};
use super::resources::{base_url, json_bytes, view_json, Projection};
use super::AppState;
use crate::auth::Scope;
use crate::provision::{Paging, SearchQuery, SearchScope};
use crate::scim::list::{cursor_list_response, list_response, ListParams};
use crate::scim::schema::ResourceKind;
use crate::store::SortSpec;

/// A `SearchRequest` (`urn:ietf:params:scim:api:messages:2.0:SearchRequest`, RFC 7644 §3.4.3):
/// the listing parameters of a query string, in a body.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation-only type: requests are read as JSON values")]
pub struct SearchRequest {
    #[schema(example = json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]))]
    pub schemas: Vec<String>,
    /// Attributes to return (plus those always returned).
    #[schema(example = json!(["userName", "emails.value"]))]
    pub attributes: Option<Vec<String>>,
    /// Attributes to leave out.
    pub excluded_attributes: Option<Vec<String>>,
    /// A SCIM filter.
    #[schema(example = "userName sw \"j\"")]
    pub filter: Option<String>,
    /// Attribute to sort by, e.g. `name.familyName`.
    pub sort_by: Option<String>,
    /// `ascending` (default) or `descending`.
    pub sort_order: Option<String>,
    /// 1-based index of the first result (index paging).
    pub start_index: Option<i64>,
    /// Page size.
    pub count: Option<i64>,
    /// RFC 9865 cursor paging: `""` for the first page, then a `nextCursor` or `previousCursor`.
    pub cursor: Option<String>,
}

/// Answers one listing request with a `ListResponse`; the caller has admitted the principal
/// for the `scim:read` scope.
pub async fn respond(
    scope: SearchScope,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    params: ListParams,
    projection: Projection,
) -> Result<HttpResponse, ApiError> {
    let limits = state.capabilities.page;
    let (principal, request) = principal.admit(&req, Scope::ScimRead, || Ok(params.parse(limits)?)).await?;
    let paging = match request.cursor {
        Some(cursor) => Paging::Cursor(cursor),
        None => Paging::Index { start_index: request.start_index },
    };
    let query = SearchQuery {
        filter: request.filter,
        sort: request.sort_by.map(|path| SortSpec { path, descending: request.descending }),
        paging,
        count: request.count,
        cursor_timeout_secs: limits.cursor_timeout_secs,
    };
    let needs_groups = projection.needs_relations(ResourceKind::User);
    let needs_members = projection.needs_relations(ResourceKind::Group);
    let (page, _) = principal
        .run(&req, move |provisioner, principal| {
            let relations = |kind: ResourceKind| match kind {
                ResourceKind::User => needs_groups,
                ResourceKind::Group => needs_members,
            };
            Ok(provisioner.search(&principal.tenant, scope, &query, &relations)?)
        })
        .await?;
    let base = base_url(&state, &req);
    let resources = page.resources.into_iter().map(|view| view_json(&state, &base, view, &projection)).collect();
    let body = match page.start_index {
        Some(start_index) => list_response(page.total_results, start_index, resources),
        None => cursor_list_response(page.total_results, page.next_cursor, page.previous_cursor, resources),
    };
    Ok(HttpResponse::Ok().insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).body(json_bytes(&body)))
}

async fn search(
    scope: SearchScope,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let (principal, (request, projection)) = principal
        .admit(&req, Scope::ScimRead, || {
            let request = ListParams::from_search_request(&body.0)?;
            let projection = Projection::parse(request.attributes.as_deref(), request.excluded_attributes.as_deref())?;
            Ok((request, projection))
        })
        .await?;
    respond(scope, state, req, principal, request.params, projection).await
}

/// Search Users and Groups with a `SearchRequest` body: Users first, then Groups.
#[utoipa::path(
    tag = "Search",
    summary = "Search all resources",
    request_body(content = SearchRequest, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "A page of Users then Groups", body = crate::api::schemas::DiscoveryListResponse, content_type = "application/scim+json"),
        (status = 400, description = "Bad body (invalidSyntax), filter (invalidFilter), parameter (invalidValue) or cursor (invalidCursor, expiredCursor)", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks scim:read", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/.search")]
pub async fn search_resources(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    search(SearchScope::All, state, req, principal, body).await
}

/// Search Users with a `SearchRequest` body.
#[utoipa::path(
    tag = "Search",
    summary = "Search Users",
    request_body(content = SearchRequest, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "A page of Users", body = crate::api::schemas::UserListResponse, content_type = "application/scim+json"),
        (status = 400, description = "Bad body (invalidSyntax), filter (invalidFilter), parameter (invalidValue) or cursor (invalidCursor, expiredCursor)", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks scim:read", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/Users/.search")]
pub async fn search_users(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    search(SearchScope::One(ResourceKind::User), state, req, principal, body).await
}

/// Search Groups with a `SearchRequest` body.
#[utoipa::path(
    tag = "Search",
    summary = "Search Groups",
    request_body(content = SearchRequest, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "A page of Groups", body = crate::api::schemas::GroupListResponse, content_type = "application/scim+json"),
        (status = 400, description = "Bad body (invalidSyntax), filter (invalidFilter), parameter (invalidValue) or cursor (invalidCursor, expiredCursor)", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks scim:read", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/Groups/.search")]
pub async fn search_groups(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    search(SearchScope::One(ResourceKind::Group), state, req, principal, body).await
}

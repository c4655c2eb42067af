//! The SCIM resource operations shared by `/Users` and `/Groups`: extract, call the
//! provisioning use case, render. Route-specific handlers (with their OpenAPI docs) live in
//! `users` and `groups` and delegate here.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::extract::SignedPrincipal;
use super::AppState;
use crate::auth::Scope;
use crate::provision::{Relations, ResourceView, SearchScope};
use crate::scim::error::ScimError;
use crate::scim::etag::{ETag, Precondition};
use crate::scim::filter::AttrPath;
use crate::scim::list::ListParams;
use crate::scim::projection::{parse_attribute_list, project_owned};
use crate::scim::render::{render_owned, Reference, ResourceMeta};
use crate::scim::schema::ResourceKind;

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), accepted on every read and write.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ProjectionParams {
    /// Comma-separated attributes to return (plus those always returned).
    pub attributes: Option<String>,
    /// Comma-separated attributes to leave out.
    pub excluded_attributes: Option<String>,
}

/// Listing parameters (RFC 7644 §3.4.2).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQueryParams {
    /// A SCIM filter, e.g. `userName eq "bjensen"`.
    pub filter: Option<String>,
    /// Attribute to sort by, e.g. `meta.created`.
    pub sort_by: Option<String>,
    /// `ascending` (default) or `descending`.
    pub sort_order: Option<String>,
    /// 1-based index of the first result (default 1).
    pub start_index: Option<i64>,
    /// Page size (default 100, capped at the advertised maximum).
    pub count: Option<i64>,
    /// RFC 9865 cursor paging: empty for the first page, then a `nextCursor` or `previousCursor`.
    pub cursor: Option<String>,
    /// Comma-separated attributes to return.
    pub attributes: Option<String>,
    /// Comma-separated attributes to leave out.
    pub excluded_attributes: Option<String>,
}

/// A parsed projection.
pub struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ScimError> {
        if attributes.is_none() && excluded.is_none() {
            return Ok(Projection { attributes: Vec::new(), excluded: Vec::new() });
        }
        Ok(Projection {
            attributes: attributes.map(parse_attribute_list).transpose()?.unwrap_or_default(),
            excluded: excluded.map(parse_attribute_list).transpose()?.unwrap_or_default(),
        })
    }

    /// Whether the response will show `groups` / `members`, so they need loading.
    pub fn needs_relations(&self, kind: ResourceKind) -> bool {
        let name = match kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        let names = |p: &AttrPath| p.name.eq_ignore_ascii_case(name);
        if self.excluded.iter().any(names) {
            return false;
        }
        self.attributes.is_empty() || self.attributes.iter().any(names)
    }
}

impl ProjectionParams {
    fn parse(&self) -> Result<Projection, ApiError> {
        Ok(Projection::parse(self.attributes.as_deref(), self.excluded_attributes.as_deref())?)
    }
}

/// The `/scim/v2` base URL for absolute locations: configured, or from the request's host.
pub fn base_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.public_url {
        Some(url) => format!("{}/scim/v2", url.trim_end_matches('/')),
        None => {
            let info = req.connection_info();
            format!("{}://{}/scim/v2", info.scheme(), info.host())
        }
    }
}

/// Renders a resource view and applies the projection.
/// Consumes the view, so its stored JSON moves into the response instead of being copied.
pub fn view_json(state: &AppState, base: &str, view: ResourceView, projection: &Projection) -> Value {
    let ResourceView { kind, stored, relations } = view;
    let meta = ResourceMeta {
        kind,
        id: &stored.id,
        version: stored.version,
        created: stored.created,
        last_modified: stored.last_modified,
    };
    let references: Option<Vec<Reference<'_>>> = relations.as_ref().map(|relations| match relations {
        Relations::Groups(groups) => groups
            .iter()
            .map(|g| Reference { id: &g.group_id, kind: ResourceKind::Group, display: Some(&g.display) })
            .collect(),
        Relations::Members(members) => members
            .iter()
            .map(|m| Reference { id: &m.member_id, kind: m.kind, display: m.display.as_deref() })
            .collect(),
    });
    let full = render_owned(base, &meta, stored.data, references.as_deref());
    let schema = state.provisioner.schemas().resource(kind);
    project_owned(schema, full, &projection.attributes, &projection.excluded)
}

fn scim_response(status: StatusCode, version: i64, body: Value) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    response.insert_header((header::ETAG, ETag::of(version).to_string()));
    if status == StatusCode::CREATED {
        if let Some(location) = body.pointer("/meta/location").and_then(Value::as_str) {
            response.insert_header((header::LOCATION, location.to_string()));
        }
    }
    response.body(json_bytes(&body))
}

/// A JSON body as bytes, written straight into one buffer (no `fmt` machinery).
pub fn json_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).expect("a JSON value always serialises")
}

fn header_value(req: &HttpRequest, name: header::HeaderName) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

pub async fn create(
    kind: ResourceKind,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    body: Value,
    projection: ProjectionParams,
) -> Result<HttpResponse, ApiError> {
    let (principal, projection) = principal.admit(&req, Scope::ScimWrite, || projection.parse()).await?;
    let (view, _) = principal
        .run(&req, move |provisioner, principal| Ok(provisioner.create(&principal.tenant, kind, &body)?))
        .await?;
    let version = view.stored.version;
    let body = view_json(&state, &base_url(&state, &req), view, &projection);
    Ok(scim_response(StatusCode::CREATED, version, body))
}

pub async fn get(
    kind: ResourceKind,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    id: String,
    projection: ProjectionParams,
) -> Result<HttpResponse, ApiError> {
    let (principal, projection) = principal.admit(&req, Scope::ScimRead, || projection.parse()).await?;
    let relations = projection.needs_relations(kind);
    let (view, _) = principal
        .run(&req, move |provisioner, principal| Ok(provisioner.get(&principal.tenant, kind, &id, relations)?))
        .await?;
    if let Some(if_none_match) = header_value(&req, header::IF_NONE_MATCH) {
        if ETag::of(view.stored.version).matches_header(&if_none_match) {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, ETag::of(view.stored.version).to_string()))
                .finish());
        }
    }
    let version = view.stored.version;
    let body = view_json(&state, &base_url(&state, &req), view, &projection);
    Ok(scim_response(StatusCode::OK, version, body))
}

pub async fn replace(
    kind: ResourceKind,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    id: String,
    body: Value,
    projection: ProjectionParams,
) -> Result<HttpResponse, ApiError> {
    let (principal, projection) = principal.admit(&req, Scope::ScimWrite, || projection.parse()).await?;
    let precondition = Precondition::if_match(header_value(&req, header::IF_MATCH));
    let (view, _) = principal
        .run(&req, move |provisioner, principal| {
            Ok(provisioner.replace(&principal.tenant, kind, &id, &body, &precondition)?)
        })
        .await?;
    let version = view.stored.version;
    let body = view_json(&state, &base_url(&state, &req), view, &projection);
    Ok(scim_response(StatusCode::OK, version, body))
}

pub async fn patch(
    kind: ResourceKind,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    id: String,
    body: Value,
    projection: ProjectionParams,
) -> Result<HttpResponse, ApiError> {
    let (principal, projection) = principal.admit(&req, Scope::ScimWrite, || projection.parse()).await?;
    let precondition = Precondition::if_match(header_value(&req, header::IF_MATCH));
    let no_content = kind == ResourceKind::Group && state.group_patch_no_content;
    let relations = !no_content && projection.needs_relations(kind);
    let (view, _) = principal
        .run(&req, move |provisioner, principal| {
            Ok(provisioner.patch(&principal.tenant, kind, &id, &body, &precondition, relations)?)
        })
        .await?;
    if no_content {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, ETag::of(view.stored.version).to_string()))
            .finish());
    }
    let version = view.stored.version;
    let body = view_json(&state, &base_url(&state, &req), view, &projection);
    Ok(scim_response(StatusCode::OK, version, body))
}

pub async fn delete(
    kind: ResourceKind,
    req: HttpRequest,
    principal: SignedPrincipal,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let (principal, ()) = principal.admit(&req, Scope::ScimWrite, || Ok(())).await?;
    let precondition = Precondition::if_match(header_value(&req, header::IF_MATCH));
    principal
        .run(&req, move |provisioner, principal| Ok(provisioner.delete(&principal.tenant, kind, &id, &precondition)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list(
    kind: ResourceKind,
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: SignedPrincipal,
    params: ListQueryParams,
) -> Result<HttpResponse, ApiError> {
    let (principal, projection) = principal
        .admit(&req, Scope::ScimRead, || {
            Ok(Projection::parse(params.attributes.as_deref(), params.excluded_attributes.as_deref())?)
        })
        .await?;
    let params = ListParams {
        filter: params.filter,
        sort_by: params.sort_by,
        sort_order: params.sort_order,
        start_index: params.start_index,
        count: params.count,
        cursor: params.cursor,
    };
    super::search::respond(SearchScope::One(kind), state, req, principal, params, projection).await
}

/// Declares the five documented handlers of one resource type (`/Users`, `/Groups`), each a
/// thin wrapper over the shared operations above. A macro, because utoipa needs literal paths
/// and schema types per route while the behaviour is identical.
macro_rules! resource_handlers {
    (
        kind: $kind:expr, tag: $tag:literal, name: $name:literal,
        collection: $collection:literal, item: $item:literal,
        body: $body:ty, list_body: $list_body:ty,
        create: $create:ident, get: $get:ident, replace: $replace:ident, patch: $patch:ident,
        delete: $delete:ident, list: $list:ident $(,)?
    ) => {
        #[doc = concat!("Create a ", $name, ".")]
        #[utoipa::path(
            tag = $tag,
            summary = concat!("Create a ", $name),
            params($crate::api::resources::ProjectionParams),
            request_body(content = $body, content_type = "application/scim+json"),
            responses(
                (status = 201, description = "Created", body = $body, content_type = "application/scim+json",
                    headers(("ETag" = String, description = "Version of the resource"), ("Location" = String, description = "URL of the resource"))),
                (status = 400, description = "Invalid body (invalidSyntax, invalidValue)", body = $crate::api::error::ErrorResponse),
                (status = 401, description = "Missing or invalid token", body = $crate::api::error::ErrorResponse),
                (status = 403, description = "Token lacks scim:write", body = $crate::api::error::ErrorResponse),
                (status = 409, description = "Uniqueness conflict", body = $crate::api::error::ErrorResponse),
                (status = 413, description = "Body too large", body = $crate::api::error::ErrorResponse),
                (status = 415, description = "Unsupported media type", body = $crate::api::error::ErrorResponse),
            ),
            security(("bearer" = []))
        )]
        #[post($collection)]
        pub async fn $create(
            state: actix_web::web::Data<$crate::api::AppState>,
            req: actix_web::HttpRequest,
            principal: $crate::api::extract::SignedPrincipal,
            body: $crate::api::extract::ScimBody,
            projection: actix_web::web::Query<$crate::api::resources::ProjectionParams>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resources::create($kind, state, req, principal, body.0, projection.into_inner()).await
        }

        #[doc = concat!("Get a ", $name, " by id.")]
        #[utoipa::path(
            tag = $tag,
            summary = concat!("Get a ", $name),
            params(("id" = String, Path, description = "Resource id"), $crate::api::resources::ProjectionParams,
                ("If-None-Match" = Option<String>, Header, description = "Answer 304 if the version still matches")),
            responses(
                (status = 200, description = "The resource", body = $body, content_type = "application/scim+json",
                    headers(("ETag" = String, description = "Version of the resource"))),
                (status = 304, description = "Not modified (If-None-Match matched)"),
                (status = 401, description = "Missing or invalid token", body = $crate::api::error::ErrorResponse),
                (status = 403, description = "Token lacks scim:read", body = $crate::api::error::ErrorResponse),
                (status = 404, description = "No such resource in this tenant", body = $crate::api::error::ErrorResponse),
            ),
            security(("bearer" = []))
        )]
        #[get($item)]
        pub async fn $get(
            state: actix_web::web::Data<$crate::api::AppState>,
            req: actix_web::HttpRequest,
            principal: $crate::api::extract::SignedPrincipal,
            id: actix_web::web::Path<String>,
            projection: actix_web::web::Query<$crate::api::resources::ProjectionParams>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resources::get($kind, state, req, principal, id.into_inner(), projection.into_inner()).await
        }

        #[doc = concat!("Replace a ", $name, ".")]
        #[utoipa::path(
            tag = $tag,
            summary = concat!("Replace a ", $name),
            params(("id" = String, Path, description = "Resource id"), $crate::api::resources::ProjectionParams,
                ("If-Match" = Option<String>, Header, description = "Only replace if the version matches")),
            request_body(content = $body, content_type = "application/scim+json"),
            responses(
                (status = 200, description = "The replaced resource", body = $body, content_type = "application/scim+json",
                    headers(("ETag" = String, description = "Version of the resource"))),
                (status = 400, description = "Invalid body (invalidSyntax, invalidValue, mutability)", body = $crate::api::error::ErrorResponse),
                (status = 401, description = "Missing or invalid token", body = $crate::api::error::ErrorResponse),
                (status = 403, description = "Token lacks scim:write", body = $crate::api::error::ErrorResponse),
                (status = 404, description = "No such resource in this tenant", body = $crate::api::error::ErrorResponse),
                (status = 409, description = "Uniqueness conflict", body = $crate::api::error::ErrorResponse),
                (status = 412, description = "If-Match did not match", body = $crate::api::error::ErrorResponse),
                (status = 413, description = "Body too large", body = $crate::api::error::ErrorResponse),
                (status = 415, description = "Unsupported media type", body = $crate::api::error::ErrorResponse),
            ),
            security(("bearer" = []))
        )]
        #[put($item)]
        pub async fn $replace(
            state: actix_web::web::Data<$crate::api::AppState>,
            req: actix_web::HttpRequest,
            principal: $crate::api::extract::SignedPrincipal,
            id: actix_web::web::Path<String>,
            body: $crate::api::extract::ScimBody,
            projection: actix_web::web::Query<$crate::api::resources::ProjectionParams>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resources::replace($kind, state, req, principal, id.into_inner(), body.0, projection.into_inner()).await
        }

        #[doc = concat!("Modify a ", $name, " with SCIM PATCH operations.")]
        #[utoipa::path(
            tag = $tag,
            summary = concat!("Patch a ", $name),
            params(("id" = String, Path, description = "Resource id"), $crate::api::resources::ProjectionParams,
                ("If-Match" = Option<String>, Header, description = "Only patch if the version matches")),
            request_body(content = $crate::api::schemas::PatchRequest, content_type = "application/scim+json"),
            responses(
                (status = 200, description = "The patched resource", body = $body, content_type = "application/scim+json",
                    headers(("ETag" = String, description = "Version of the resource"))),
                (status = 204, description = "Patched (groups, when ROSTER_GROUP_PATCH_NO_CONTENT is set)"),
                (status = 400, description = "Invalid operation (invalidSyntax, invalidPath, invalidValue, noTarget, mutability)", body = $crate::api::error::ErrorResponse),
                (status = 401, description = "Missing or invalid token", body = $crate::api::error::ErrorResponse),
                (status = 403, description = "Token lacks scim:write", body = $crate::api::error::ErrorResponse),
                (status = 404, description = "No such resource in this tenant", body = $crate::api::error::ErrorResponse),
                (status = 409, description = "Uniqueness conflict", body = $crate::api::error::ErrorResponse),
                (status = 412, description = "If-Match did not match", body = $crate::api::error::ErrorResponse),
                (status = 413, description = "Body too large", body = $crate::api::error::ErrorResponse),
                (status = 415, description = "Unsupported media type", body = $crate::api::error::ErrorResponse),
            ),
            security(("bearer" = []))
        )]
        #[patch($item)]
        pub async fn $patch(
            state: actix_web::web::Data<$crate::api::AppState>,
            req: actix_web::HttpRequest,
            principal: $crate::api::extract::SignedPrincipal,
            id: actix_web::web::Path<String>,
            body: $crate::api::extract::ScimBody,
            projection: actix_web::web::Query<$crate::api::resources::ProjectionParams>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resources::patch($kind, state, req, principal, id.into_inner(), body.0, projection.into_inner()).await
        }

        #[doc = concat!("Delete a ", $name, ".")]
        #[utoipa::path(
            tag = $tag,
            summary = concat!("Delete a ", $name),
            params(("id" = String, Path, description = "Resource id"),
                ("If-Match" = Option<String>, Header, description = "Only delete if the version matches")),
            responses(
                (status = 204, description = "Deleted"),
                (status = 401, description = "Missing or invalid token", body = $crate::api::error::ErrorResponse),
                (status = 403, description = "Token lacks scim:write", body = $crate::api::error::ErrorResponse),
                (status = 404, description = "No such resource in this tenant", body = $crate::api::error::ErrorResponse),
                (status = 412, description = "If-Match did not match", body = $crate::api::error::ErrorResponse),
            ),
            security(("bearer" = []))
        )]
        #[delete($item)]
        pub async fn $delete(
            req: actix_web::HttpRequest,
            principal: $crate::api::extract::SignedPrincipal,
            id: actix_web::web::Path<String>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resources::delete($kind, req, principal, id.into_inner()).await
        }

        #[doc = concat!("List ", $name, "s with filter, sort and paging.")]
        #[utoipa::path(
            tag = $tag,
            summary = concat!("List ", $name, "s"),
            params($crate::api::resources::ListQueryParams),
            responses(
                (status = 200, description = "A page of resources", body = $list_body, content_type = "application/scim+json"),
                (status = 400, description = "Bad filter (invalidFilter) or parameter (invalidValue)", body = $crate::api::error::ErrorResponse),
                (status = 401, description = "Missing or invalid token", body = $crate::api::error::ErrorResponse),
                (status = 403, description = "Token lacks scim:read", body = $crate::api::error::ErrorResponse),
            ),
            security(("bearer" = []))
        )]
        #[get($collection)]
        pub async fn $list(
            state: actix_web::web::Data<$crate::api::AppState>,
            req: actix_web::HttpRequest,
            principal: $crate::api::extract::SignedPrincipal,
            params: actix_web::web::Query<$crate::api::resources::ListQueryParams>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resources::list($kind, state, req, principal, params.into_inner()).await
        }
    };
}

pub(crate) use resource_handlers;

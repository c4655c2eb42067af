//! Discovery endpoints (RFC 7644 §4): what this server supports, generated from the schema
//! registry and the configured capabilities. They need no scope beyond a valid token.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::resources::base_url;
use super::AppState;
use crate::auth::Principal;
use crate::scim::discovery::{resource_type, service_provider_config, RESOURCE_KINDS};
use crate::scim::error::ScimError;
use crate::scim::list::list_response;
use crate::scim::render::resource_type_name;

fn scim_ok(body: Value) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).body(body.to_string())
}

/// How this server implements SCIM (RFC 7643 §5).
#[utoipa::path(
    tag = "Discovery",
    responses(
        (status = 200, description = "Service provider configuration", body = crate::api::schemas::ServiceProviderConfig, content_type = "application/scim+json"),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/ServiceProviderConfig")]
pub async fn get_service_provider_config(
    state: web::Data<AppState>,
    req: HttpRequest,
    _principal: Principal,
) -> HttpResponse {
    scim_ok(service_provider_config(&base_url(&state, &req), &state.capabilities))
}

/// The resource types served (RFC 7643 §6).
#[utoipa::path(
    tag = "Discovery",
    responses(
        (status = 200, description = "All resource types", body = crate::api::schemas::DiscoveryListResponse, content_type = "application/scim+json"),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/ResourceTypes")]
pub async fn list_resource_types(state: web::Data<AppState>, req: HttpRequest, _principal: Principal) -> HttpResponse {
    let base = base_url(&state, &req);
    let types: Vec<Value> =
        RESOURCE_KINDS.iter().map(|kind| resource_type(&base, state.provisioner.schemas(), *kind)).collect();
    scim_ok(list_response(types.len() as u64, 1, types))
}

/// One resource type by name (`User` or `Group`).
#[utoipa::path(
    tag = "Discovery",
    params(("name" = String, Path, description = "Resource type name: User or Group")),
    responses(
        (status = 200, description = "The resource type", body = crate::api::schemas::ResourceType, content_type = "application/scim+json"),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 404, description = "Unknown resource type", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/ResourceTypes/{name}")]
pub async fn get_resource_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    _principal: Principal,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = RESOURCE_KINDS
        .into_iter()
        .find(|k| resource_type_name(*k).eq_ignore_ascii_case(&name))
        .ok_or_else(|| ScimError::not_found(format!("no resource type named \"{name}\"")))?;
    Ok(scim_ok(resource_type(&base_url(&state, &req), state.provisioner.schemas(), kind)))
}

/// Every schema the server knows, extensions included (RFC 7643 §7).
#[utoipa::path(
    tag = "Discovery",
    responses(
        (status = 200, description = "All schemas", body = crate::api::schemas::DiscoveryListResponse, content_type = "application/scim+json"),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/Schemas")]
pub async fn list_schemas(state: web::Data<AppState>, req: HttpRequest, _principal: Principal) -> HttpResponse {
    let base = base_url(&state, &req);
    let schemas: Vec<Value> = state.provisioner.schemas().schemas().iter().map(|s| s.to_json(&base)).collect();
    scim_ok(list_response(schemas.len() as u64, 1, schemas))
}

/// One schema by its URN.
#[utoipa::path(
    tag = "Discovery",
    params(("id" = String, Path, description = "Schema URN")),
    responses(
        (status = 200, description = "The schema", body = crate::api::schemas::Schema, content_type = "application/scim+json"),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 404, description = "Unknown schema", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/Schemas/{id}")]
pub async fn get_schema(
    state: web::Data<AppState>,
    req: HttpRequest,
    _principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let schemas = state.provisioner.schemas().schemas();
    let schema = schemas
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no schema with id \"{id}\"")))?;
    Ok(scim_ok(schema.to_json(&base_url(&state, &req))))
}

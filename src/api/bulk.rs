//! `POST /scim/v2/Bulk` (RFC 7644 §3.7): many resource operations in one request, each run through
//! the provisioning use cases on its own, within the limits `/ServiceProviderConfig` advertises.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{post, web, FromRequest, HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::{ApiError, SCIM_CONTENT_TYPE};
use super::extract::read_json_body;
use super::resources::base_url;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::provision::BulkOutcome;
use crate::scim::bulk::{bulk_response, parse_bulk_request, BulkEntry, OperationResponse};
use crate::scim::error::ScimError;
use crate::scim::etag::ETag;
use crate::scim::render::location;

/// A bulk request body, read up to the advertised `maxPayloadSize` (413 beyond, RFC 7644 §3.7.4).
pub struct BulkBody(pub Value);

impl FromRequest for BulkBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<BulkBody, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<web::Data<AppState>>().map_or(1 << 20, |state| {
            state.capabilities.bulk.map_or(state.body_limit, |bulk| bulk.max_payload_size as usize)
        });
        let body =
            read_json_body(req, payload, limit, format!("the bulk request exceeds maxPayloadSize ({limit} bytes)"));
        Box::pin(async move { Ok(BulkBody(body.await?.0)) })
    }
}

/// Run many operations in one request (RFC 7644 §3.7).
///
/// Operations run one by one, each in its own transaction, so some may succeed while others fail;
/// each one's outcome is in the response. `bulkId:<id>` anywhere in a path or value refers to the
/// resource a POST of the same request creates, whatever the order of the operations.
#[utoipa::path(
    tag = "Bulk",
    summary = "Run a bulk request",
    request_body(content = crate::api::schemas::BulkRequest, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The outcome of each operation that ran (failures have an error `status` and `response`)",
            body = crate::api::schemas::BulkResponse, content_type = "application/scim+json"),
        (status = 400, description = "Malformed bulk request (invalidSyntax, invalidValue)", body = crate::api::error::ErrorResponse),
        (status = 401, description = "Missing or invalid token", body = crate::api::error::ErrorResponse),
        (status = 403, description = "Token lacks scim:write", body = crate::api::error::ErrorResponse),
        (status = 413, description = "More operations than maxOperations, or a body larger than maxPayloadSize", body = crate::api::error::ErrorResponse),
        (status = 415, description = "Unsupported media type", body = crate::api::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/Bulk")]
pub async fn run_bulk(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    body: BulkBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Scope::ScimWrite)?;
    let limits = state.capabilities.bulk.ok_or_else(|| ScimError::new(501, None, "bulk operations are not enabled"))?;
    let request = parse_bulk_request(&body.0, limits.max_operations)?;
    let worker = state.clone();
    let (request, outcomes) = web::block(move || {
        let outcomes = worker.provisioner.bulk(&principal.tenant, &request);
        (request, outcomes)
    })
    .await?;
    let base = base_url(&state, &req);
    let operations: Vec<OperationResponse> = outcomes
        .into_iter()
        .map(|outcome| operation_response(&base, &request.entries[outcome.index], outcome))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE))
        .body(bulk_response(&operations).to_string()))
}

fn operation_response(base: &str, entry: &BulkEntry, outcome: BulkOutcome) -> OperationResponse {
    let (status, version, response) = match outcome.result {
        Ok(success) => (success.status, success.version.map(|v| ETag::of(v).to_string()), None),
        Err(error) => {
            let (status, body) = ApiError::from(error).status_and_body();
            (status.as_u16(), None, serde_json::to_value(body).ok())
        }
    };
    OperationResponse {
        method: entry.method.clone(),
        bulk_id: entry.bulk_id.clone(),
        location: outcome.resource.map(|(kind, id)| location(base, kind, &id)),
        version,
        status,
        response,
    }
}

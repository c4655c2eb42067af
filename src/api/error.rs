//! The one place where any error becomes an HTTP status and a SCIM error body
//! (RFC 7644 §3.12). Handlers return `Result<_, ApiError>`; foreign errors convert through `From`.
//!
//! A 500 never shows internals: the cause is logged with the request id, the body says only
//! that something failed.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::provision::ProvisionError;
use crate::scim::error::ScimError;
use crate::store::StoreError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The SCIM error body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// Always `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    pub schemas: Vec<String>,
    /// The HTTP status code, as a string (RFC 7644 §3.12).
    #[schema(example = "400")]
    pub status: String,
    /// One of the RFC 7644 §3.12 `scimType` keywords, when one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "invalidFilter")]
    pub scim_type: Option<String>,
    /// What went wrong, for a human.
    pub detail: String,
}

/// Every way an API request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Query(e) => ApiError::Scim(e),
            StoreError::NotFound => ApiError::Scim(ScimError::not_found("resource not found")),
            StoreError::UniqueViolation(_) => ApiError::Scim(ScimError::uniqueness("a unique value is already taken")),
            StoreError::VersionMismatch => {
                ApiError::Scim(ScimError::new(409, None, "the resource was modified concurrently; retry"))
            }
            StoreError::Unavailable(e) => ApiError::Unavailable(e),
            StoreError::TokenRevoked => ApiError::Auth(AuthError::Revoked),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ProvisionError> for ApiError {
    fn from(error: ProvisionError) -> ApiError {
        match error {
            ProvisionError::Scim(e) => ApiError::Scim(e),
            ProvisionError::Store(e) => e.into(),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        match self {
            ApiError::Scim(e) => (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                e.scim_type.map(|t| t.as_str()),
                e.detail.clone(),
            ),
            ApiError::Auth(e @ AuthError::MissingScope(_)) => (StatusCode::FORBIDDEN, None, e.to_string()),
            ApiError::Auth(e) => (StatusCode::UNAUTHORIZED, None, e.to_string()),
            ApiError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, None, "the database is unavailable; retry later".to_string())
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None, "internal server error".to_string()),
        }
    }
}

impl ErrorResponse {
    fn new(status: StatusCode, scim_type: Option<&str>, detail: &str) -> ErrorResponse {
        ErrorResponse {
            schemas: vec![ERROR_SCHEMA.to_string()],
            status: status.as_u16().to_string(),
            scim_type: scim_type.map(str::to_string),
            detail: detail.to_string(),
        }
    }
}

impl ApiError {
    /// The status and SCIM error body of this error, logging the cause when the server is at
    /// fault. Also used for errors reported inside another response, such as the `response` of a
    /// failed `/Bulk` operation (RFC 7644 §3.7.3).
    pub fn status_and_body(&self) -> (StatusCode, ErrorResponse) {
        let (status, scim_type, detail) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (status, ErrorResponse::new(status, scim_type, &detail))
    }
}

/// Renders a SCIM error response with the given parts.
pub fn error_response(status: StatusCode, scim_type: Option<&str>, detail: &str) -> HttpResponse {
    let body = ErrorResponse::new(status, scim_type, detail);
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).json(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, body) = self.status_and_body();
        let mut response =
            HttpResponse::build(status).insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).json(body);
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"roster\""));
        }
        response
    }
}

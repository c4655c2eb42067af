//! Liveness and readiness probes, without authentication.

use actix_web::{get, web, HttpResponse};

use super::error::ApiError;
use super::schemas::HealthStatus;
use super::AppState;

/// The process is up.
#[utoipa::path(tag = "Operations", responses((status = 200, description = "Process is up", body = HealthStatus)))]
#[get("/healthz")]
pub async fn get_health() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok".into() })
}

/// The database answers.
#[utoipa::path(
    tag = "Operations",
    responses(
        (status = 200, description = "Database reachable", body = HealthStatus),
        (status = 503, description = "Database unreachable", body = crate::api::error::ErrorResponse),
    )
)]
#[get("/readyz")]
pub async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    web::block(move || state.provisioner.store().ping()).await??;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ready".into() }))
}

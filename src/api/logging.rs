//! One access-log line per request: request id, tenant, method, path, status, latency.
//! Never the query string's secrets, a header, a token or a body.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

use super::extract::LoggedTenant;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        // A v4 UUID from the thread's generator: `Uuid::new_v4` asks the kernel each time.
        .map_or_else(|| uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(), str::to_string);
    let method = req.method().clone();
    let path = req.path().to_string();
    let mut response = next.call(req).await?;
    let tenant = response.request().extensions().get::<LoggedTenant>().map(|t| t.0.clone()).unwrap_or_default();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    tracing::info!(
        request_id = %request_id,
        tenant = %tenant,
        method = %method,
        path = %path,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(response)
}

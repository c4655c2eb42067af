//! Answers requests no route matched: 405 with `Allow` when the path exists under another
//! method, 404 otherwise, both as SCIM errors. The known paths come from the OpenAPI document,
//! so this table cannot drift from the registered routes.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;

use super::error::error_response;

/// Path templates (`/scim/v2/Users/{id}`) and the methods each accepts.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl RouteTable {
    pub fn from_openapi(doc: &OpenApi) -> RouteTable {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_string).collect();
                let mut methods = Vec::new();
                let pairs = [
                    (item.get.is_some(), "GET"),
                    (item.post.is_some(), "POST"),
                    (item.put.is_some(), "PUT"),
                    (item.patch.is_some(), "PATCH"),
                    (item.delete.is_some(), "DELETE"),
                ];
                for (present, name) in pairs {
                    if present {
                        methods.push(name);
                    }
                }
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods allowed on `path`, or `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let wanted: Vec<&str> = path.split('/').collect();
        let mut allowed: Vec<&'static str> = Vec::new();
        let mut found = false;
        for (segments, methods) in &self.routes {
            let same = segments.len() == wanted.len()
                && segments
                    .iter()
                    .zip(&wanted)
                    .all(|(template, actual)| template == actual || (template.starts_with('{') && !actual.is_empty()));
            if same {
                found = true;
                allowed.extend(methods.iter().copied());
            }
        }
        found.then_some(allowed)
    }
}

pub async fn unmatched(req: HttpRequest, routes: web::Data<RouteTable>) -> HttpResponse {
    match routes.allowed(req.path()) {
        Some(methods) => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                &format!("{} is not allowed on {}; allowed: {}", req.method(), req.path(), methods.join(", ")),
            );
            if let Ok(value) = header::HeaderValue::from_str(&methods.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        None => error_response(StatusCode::NOT_FOUND, None, &format!("no resource at {}", req.path())),
    }
}

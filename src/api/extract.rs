//! Request extractors: the authenticated [`Principal`] and the SCIM JSON body, each failing
//! with a SCIM error (401/403, 413, 415, 400 `invalidSyntax`) instead of actix's defaults.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;
use crate::auth::{AuthError, Principal, Scope};
use crate::provision::Provisioner;
use crate::scim::error::ScimError;
use crate::store::StoreError;

/// The tenant of the request, recorded for the access log.
#[derive(Debug, Clone)]
pub struct LoggedTenant(pub String);

fn bearer_token(req: &HttpRequest) -> Result<String, AuthError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or(AuthError::MissingHeader)?;
    let value = value.to_str().map_err(|_| AuthError::MalformedHeader)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedHeader)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token.to_string())
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Principal, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed = signed_principal(req);
        let req = req.clone();
        Box::pin(async move { signed?.check_revocation(&req).await })
    }
}

fn signed_principal(req: &HttpRequest) -> Result<SignedPrincipal, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().expect("AppState is registered");
    let token = bearer_token(req)?;
    Ok(SignedPrincipal(state.verifier.verify(&token)?))
}

/// A caller whose token has a valid signature and is not expired, but whose revocation is not
/// checked yet. The check is made by [`SignedPrincipal::run`], on the same connection and in the
/// same blocking call as the request's database work, which saves the hot SCIM routes a second
/// pool checkout and thread hand-off; a revocation still holds at once on every instance,
/// because every request reads the revocation table.
pub struct SignedPrincipal(Principal);

impl FromRequest for SignedPrincipal {
    type Error = ApiError;
    type Future = std::future::Ready<Result<SignedPrincipal, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_principal(req))
    }
}

impl SignedPrincipal {
    /// Checks revocation in a blocking call of its own and yields the [`Principal`].
    pub async fn check_revocation(self, req: &HttpRequest) -> Result<Principal, ApiError> {
        Ok(self.run(req, |provisioner, _| Ok(provisioner.store().read(|_| Ok::<_, StoreError>(()))?)).await?.1)
    }

    /// Checks that the token grants `scope`, then `prepare` (parsing the request's
    /// parameters). A refusal is answered only after checking revocation, so that a revoked
    /// token gets 401 whatever else is wrong with the request, as when every request checked
    /// revocation before its handler ran.
    pub async fn admit<P>(
        self,
        req: &HttpRequest,
        scope: Scope,
        prepare: impl FnOnce() -> Result<P, ApiError>,
    ) -> Result<(SignedPrincipal, P), ApiError> {
        match self.0.require(scope).map_err(ApiError::from).and_then(|()| prepare()) {
            Ok(prepared) => Ok((self, prepared)),
            Err(refusal) => {
                self.check_revocation(req).await?;
                Err(refusal)
            }
        }
    }

    /// Runs `work` on a blocking thread with a provisioner that checks revocation at every
    /// database use, on that use's connection. Records the tenant for the access log once the
    /// token is known to be good.
    pub async fn run<T: Send + 'static>(
        self,
        req: &HttpRequest,
        work: impl FnOnce(&Provisioner, &Principal) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<(T, Principal), ApiError> {
        let state = req.app_data::<web::Data<AppState>>().expect("AppState is registered").clone();
        let principal = self.0;
        let (outcome, principal) = web::block(move || {
            let provisioner = state.provisioner.checking_token(&principal.token_id);
            let mut outcome = work(&provisioner, &principal);
            if outcome.as_ref().is_err_and(|e| !matches!(e, ApiError::Auth(AuthError::Revoked))) {
                // The work may have failed before using the database (a request it refused):
                // a revoked token must still get 401.
                if let Err(e) = provisioner.store().read(|_| Ok::<_, StoreError>(())) {
                    outcome = Err(e.into());
                }
            }
            (outcome, principal)
        })
        .await?;
        if !matches!(outcome, Err(ApiError::Auth(AuthError::Revoked))) {
            req.extensions_mut().insert(LoggedTenant(principal.tenant.to_string()));
        }
        outcome.map(|value| (value, principal))
    }
}

/// Media types accepted for SCIM request bodies: RFC 7644 §3.1 plus what identity providers send.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(essence.as_str(), "application/scim+json" | "application/json" | "text/json")
}

/// A parsed JSON request body, limited to the configured size.
#[derive(Debug)]
pub struct ScimBody(pub Value);

impl FromRequest for ScimBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ScimBody, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<web::Data<AppState>>().map_or(1 << 20, |s| s.body_limit);
        read_json_body(req, payload, limit, format!("request body exceeds the limit of {limit} bytes"))
    }
}

/// Reads a SCIM JSON body of at most `limit` bytes: 415 for another media type, 413 with
/// `too_large` as detail for a longer body, 400 `invalidSyntax` for an empty or unparsable one.
pub(crate) fn read_json_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
    too_large: String,
) -> Pin<Box<dyn Future<Output = Result<ScimBody, ApiError>>>> {
    let content_type = req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?").to_string());
    let declared_length =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if let Some(content_type) = content_type {
            if !is_json_media_type(&content_type) {
                return Err(ScimError::new(
                    415,
                    None,
                    format!("unsupported media type \"{content_type}\": send application/scim+json"),
                )
                .into());
            }
        }
        let too_large = || ScimError::new(413, None, too_large.clone());
        if declared_length.is_some_and(|n| n > limit) {
            return Err(too_large().into());
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ScimError::invalid_syntax(format!("could not read the request body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large().into());
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            return Err(ScimError::invalid_syntax("the request body is empty; a JSON object is required").into());
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ScimError::invalid_syntax(format!("request body is not valid JSON: {e}")))?;
        Ok(ScimBody(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_json_and_identity_provider_media_types_are_accepted() {
        for ok in [
            "application/scim+json",
            "application/scim+json; charset=utf-8",
            "application/json",
            "text/json",
            "Application/JSON",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in ["text/plain", "application/xml", "multipart/form-data; boundary=x"] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }
}

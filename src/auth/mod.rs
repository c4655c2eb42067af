//! Bearer-token authentication: JWT issue and verification into a [`Principal`].
//!
//! By default tokens are HS256, signed with a secret the server generates on first start and
//! keeps in the database (so every instance and `roster token create` share it). An operator can
//! instead configure RS256 or ES256 with a PEM public key, so an external issuer mints tokens.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::store::{Repository, StoreError};
use crate::tenant::TenantId;

/// Key of the generated HS256 secret in `server_settings`.
const SECRET_SETTING: &str = "jwt_hs256_secret";

/// A permission carried in the token's `scope` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    ScimRead,
    ScimWrite,
    Import,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::ScimRead, Scope::ScimWrite, Scope::Import, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ScimRead => "scim:read",
            Scope::ScimWrite => "scim:write",
            Scope::Import => "import",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims Roster reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant: String,
    /// Space-separated scopes (RFC 8693 §4.2 style).
    #[serde(default)]
    pub scope: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    pub jti: String,
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub subject: String,
    pub scopes: BTreeSet<Scope>,
    pub token_id: String,
}

impl Principal {
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AuthError::MissingScope(scope))
        }
    }
}

/// Why a request is not authenticated (401) or not allowed (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header: send \"Authorization: Bearer <token>\"")]
    MissingHeader,
    #[error("the Authorization header must be \"Bearer <token>\"")]
    MalformedHeader,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token has been revoked")]
    Revoked,
    #[error("the token lacks the \"{0}\" scope this operation needs")]
    MissingScope(Scope),
}

/// Which algorithm and key tokens are verified with.
#[derive(Clone)]
pub struct TokenVerifier {
    algorithm: Algorithm,
    key: DecodingKey,
    signer: Option<EncodingKey>,
    verified: std::sync::Arc<VerifiedTokens>,
}

/// Tokens whose signature and claims were verified, with their expiry: a client sends the same
/// token with every request, and its signature and claims cannot change. Revocation is not
/// cached (the caller checks it in the database on every request).
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<Box<str>, (Principal, u64)>>);

/// Bounds the memory of [`VerifiedTokens`]; when full it starts over.
const MAX_VERIFIED_TOKENS: usize = 1024;

impl VerifiedTokens {
    /// The principal of a token verified before, if it is still before its expiry. Tokens at
    /// or past `exp` go through full verification again, which decides with its leeway.
    fn get(&self, token: &str) -> Option<Principal> {
        let tokens = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.get(token).filter(|(_, exp)| *exp > unix_now()).map(|(principal, _)| principal.clone())
    }

    fn remember(&self, token: &str, principal: &Principal, exp: u64) {
        let mut tokens = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tokens.len() >= MAX_VERIFIED_TOKENS {
            tokens.clear();
        }
        tokens.insert(token.into(), (principal.clone(), exp));
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// Verification settings from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationKey {
    /// HS256 with this shared secret (generated and stored when not configured).
    SharedSecret(String),
    /// RS256 with a PEM public key.
    Rsa(String),
    /// ES256 with a PEM public key.
    Ecdsa(String),
}

impl TokenVerifier {
    pub fn new(key: &VerificationKey) -> Result<TokenVerifier, String> {
        Ok(match key {
            VerificationKey::SharedSecret(secret) => TokenVerifier {
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes()),
                signer: Some(EncodingKey::from_secret(secret.as_bytes())),
                verified: Default::default(),
            },
            VerificationKey::Rsa(pem) => TokenVerifier {
                algorithm: Algorithm::RS256,
                key: DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("bad RSA public key: {e}"))?,
                signer: None,
                verified: Default::default(),
            },
            VerificationKey::Ecdsa(pem) => TokenVerifier {
                algorithm: Algorithm::ES256,
                key: DecodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| format!("bad EC public key: {e}"))?,
                signer: None,
                verified: Default::default(),
            },
        })
    }

    /// Checks signature, algorithm and expiry. Revocation is checked by the caller against the
    /// database, so that it holds on every instance at once.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(principal) = self.verified.get(token) {
            return Ok(principal);
        }
        let mut validation = Validation::new(self.algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidAlgorithm => {
                    AuthError::InvalidToken(format!("only {:?} tokens are accepted", self.algorithm))
                }
                ErrorKind::InvalidSignature => AuthError::InvalidToken("bad signature".into()),
                ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
                    AuthError::InvalidToken("claims must include sub, tenant, scope, exp and jti".into())
                }
                _ => AuthError::InvalidToken("not a valid JWT".into()),
            }
        })?;
        let claims = data.claims;
        let tenant = TenantId::parse(&claims.tenant).map_err(AuthError::InvalidToken)?;
        let scopes = claims.scope.split_whitespace().filter_map(Scope::parse).collect();
        let principal = Principal { tenant, subject: claims.sub, scopes, token_id: claims.jti };
        self.verified.remember(token, &principal, claims.exp);
        Ok(principal)
    }

    /// Signs a new token; only possible with the shared secret (external issuers sign their own).
    pub fn issue(&self, request: &TokenRequest) -> Result<IssuedToken, String> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            format!("tokens are verified with {:?} public keys: mint them with your own issuer", self.algorithm)
        })?;
        let now = unix_now();
        let claims = Claims {
            sub: request.subject.clone(),
            tenant: request.tenant.as_str().to_string(),
            scope: request.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
            exp: now + request.ttl.as_secs(),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, signer).map_err(|e| e.to_string())?;
        Ok(IssuedToken { token, claims })
    }
}

/// What `roster token create` asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub tenant: TenantId,
    pub subject: String,
    pub scopes: BTreeSet<Scope>,
    pub ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Parses a scope list such as `"scim:read scim:write import admin"`.
pub fn parse_scopes(raw: &str) -> Result<BTreeSet<Scope>, String> {
    raw.split_whitespace()
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope {s:?}; known scopes: {}", known.join(", "))
            })
        })
        .collect()
}

/// Parses a lifetime such as `90d`, `12h`, `30m`, `3600s` or `2w`.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("bad duration {raw:?}: use e.g. 90d, 12h, 30m"))?;
    let seconds = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("bad duration unit in {raw:?}: use s, m, h, d or w")),
    };
    if n == 0 {
        return Err("a token lifetime must be positive".into());
    }
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// Returns the HS256 secret stored in the database, generating and storing one if none exists.
/// The boolean is true when this call generated it (first start).
pub fn ensure_stored_secret(repo: &mut dyn Repository) -> Result<(String, bool), StoreError> {
    if let Some(secret) = repo.setting(SECRET_SETTING)? {
        return Ok((secret, false));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let candidate = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    repo.insert_setting_if_absent(SECRET_SETTING, &candidate)?;
    // Another instance may have won the race: the stored value is the one to use.
    let stored = repo.setting(SECRET_SETTING)?.unwrap_or(candidate.clone());
    let generated = stored == candidate;
    Ok((stored, generated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&VerificationKey::SharedSecret("test-secret".into())).unwrap()
    }

    fn request(ttl: u64) -> TokenRequest {
        TokenRequest {
            tenant: TenantId::parse("acme").unwrap(),
            subject: "okta".into(),
            scopes: parse_scopes("scim:read scim:write").unwrap(),
            ttl: Duration::from_secs(ttl),
        }
    }

    #[test]
    fn issued_tokens_verify_into_a_principal() {
        let issued = verifier().issue(&request(60)).unwrap();
        let principal = verifier().verify(&issued.token).unwrap();
        assert_eq!(principal.tenant.as_str(), "acme");
        assert_eq!(principal.subject, "okta");
        assert!(principal.require(Scope::ScimWrite).is_ok());
        assert_eq!(principal.require(Scope::Import), Err(AuthError::MissingScope(Scope::Import)));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let other = TokenVerifier::new(&VerificationKey::SharedSecret("other".into())).unwrap();
        let issued = other.issue(&request(60)).unwrap();
        assert!(matches!(verifier().verify(&issued.token), Err(AuthError::InvalidToken(_))));
    }

    #[test]
    fn unsigned_tokens_are_rejected() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = engine.encode(r#"{"sub":"x","tenant":"acme","scope":"scim:read","exp":9999999999,"jti":"j"}"#);
        let token = format!("{header}.{claims}.");
        assert!(matches!(verifier().verify(&token), Err(AuthError::InvalidToken(_))));
    }

    #[test]
    fn lifetimes_and_scopes_parse() {
        assert_eq!(parse_ttl("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert!(parse_ttl("0d").is_err());
        assert!(parse_ttl("3 fortnights").is_err());
        assert!(parse_scopes("scim:read root").unwrap_err().contains("root"));
    }
}

//! Bearer tokens: HS256 JSON Web Tokens carrying the tenant (the library branch), the user and
//! the role. The tenant and actor of a request come from the verified token and nothing else.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a token says: the branch (tenant), the user and the role (`member`, `librarian`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The tenant: one library branch.
    pub tenant: String,
    /// The user's id.
    pub sub: String,
    /// The role.
    pub role: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Signs and verifies tokens with one secret.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Keys {
    /// Keys of the shared secret `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// The claims of `token`, if its signature and expiry hold.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let validation = Validation::new(Algorithm::HS256);
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)?.claims)
    }
}

/// The verified caller of a request: an extractor that answers 401 without a valid bearer
/// token.
#[derive(Debug, Clone)]
pub struct Caller(pub Claims);

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync + AsRef<Keys>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
        let claims = state
            .as_ref()
            .verify(token)
            .map_err(|e| ApiError::unauthorized(format!("the token is not valid: {e}")))?;
        if claims.tenant.is_empty() {
            return Err(ApiError::unauthorized("the token names no tenant"));
        }
        Ok(Caller(claims))
    }
}

//! How the service answers a failure: a status and `{error, diagnostics}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use manifest_runtime::{CommandResult, RuntimeError};
use serde_json::{Value as Json_, json};

/// A failed request: its status and body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: String,
    diagnostics: Json_,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            diagnostics: Json_::Null,
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    /// 401: no valid token.
    pub fn unauthorized(error: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, error)
    }

    /// 404.
    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error)
    }

    /// The status of a command that ran and failed, as the reference's dispatcher maps it:
    /// a policy denial 403, a guard or blocking constraint 422, a rate limit 429, a version
    /// conflict 409, an unknown command 404, a missing parameter 400, any other refusal 422.
    pub fn from_result(result: CommandResult) -> Self {
        let status = if result.policy_denial.is_some() || result.denied_by.is_some() {
            StatusCode::FORBIDDEN
        } else if result.rate_limit_denial.is_some() {
            StatusCode::TOO_MANY_REQUESTS
        } else if result.concurrency_conflict.is_some() {
            StatusCode::CONFLICT
        } else if result
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("Command '") && e.ends_with("' not found"))
        {
            StatusCode::NOT_FOUND
        } else if result
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("MISSING_REQUIRED_PARAMETER"))
        {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let error = result
            .error
            .clone()
            .unwrap_or_else(|| "the command failed".to_owned());
        let mut diagnostics = serde_json::to_value(&result).unwrap_or(Json_::Null);
        if let Json_::Object(map) = &mut diagnostics {
            for key in ["success", "error", "emittedEvents", "result"] {
                map.remove(key);
            }
        }
        ApiError {
            status,
            error,
            diagnostics,
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        use manifest_core::Error as StoreError;
        let status = match &e {
            RuntimeError::UnknownEntity(_) | RuntimeError::NotFound { .. } => StatusCode::NOT_FOUND,
            RuntimeError::Conflict { .. }
            | RuntimeError::IdempotencyKeyReused { .. }
            | RuntimeError::Store(StoreError::DuplicateId { .. }) => StatusCode::CONFLICT,
            RuntimeError::LimitExceeded { .. }
            | RuntimeError::ReservedField { .. }
            | RuntimeError::Store(StoreError::InvalidData { .. } | StoreError::NulInKey { .. }) => {
                StatusCode::BAD_REQUEST
            }
            RuntimeError::MissingRequired { .. }
            | RuntimeError::ConstraintsFailed { .. }
            | RuntimeError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // A fault: logged whole, answered without its internals.
            tracing::error!(error = %e, "request failed");
            return ApiError::new(status, "internal error");
        }
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "diagnostics": self.diagnostics});
        (self.status, Json(body)).into_response()
    }
}

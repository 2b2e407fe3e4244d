//! API errors: every one answers `{"error":{"code":"…","message":"…"}}`.

use agensium_ports::{MetaError, RailError, StoreError};
use agensium_usecases::Refusal;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered to a client, with its HTTP status and stable code.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// When to come back (a `Retry-After` header), for 429 and 503.
    pub retry_after: Option<std::time::Duration>,
    /// The id under which the details of a server-side failure were logged
    /// (answered as `error.incident`).
    pub incident: Option<String>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            incident: None,
        }
    }

    /// A failure of the server side (a backend, the compiler): the client
    /// gets `public` and an incident id; the details, which may name hosts,
    /// paths or worse, go to the log under that id only.
    pub fn incident(
        status: StatusCode,
        code: &'static str,
        public: &str,
        detail: &dyn std::fmt::Display,
    ) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        tracing::error!(incident = %id, code, %detail, "request failed");
        let mut e = Self::new(
            status,
            code,
            format!("{public} (incident {id}: the operator's log has the details)"),
        );
        e.incident = Some(id);
        e
    }

    /// The same error with a `Retry-After` header (whole seconds, at least 1).
    #[must_use]
    pub fn retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// 401: no usable key. Answered with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the key's role does not allow this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 429 with the given code, to be retried after `after`.
    pub fn too_many(
        code: &'static str,
        message: impl Into<String>,
        after: std::time::Duration,
    ) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, message).retry_after(after)
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with the given code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 with the given code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.incident.is_none() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = crate::openapi::ErrorBody {
            error: crate::openapi::ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                incident: self.incident,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        let h = resp.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            h.insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
        }
        resp
    }
}

impl From<MetaError> for ApiError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::Backend(_) => Self::incident(
                StatusCode::SERVICE_UNAVAILABLE,
                "metadata_store_unavailable",
                "the metadata store is unavailable; try again shortly",
                &e,
            ),
            // Not "unavailable": trying again will not help.
            MetaError::Corrupt(_) => Self::incident(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_record",
                "a stored record could not be read",
                &e,
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Backend(_) => Self::incident(
                StatusCode::SERVICE_UNAVAILABLE,
                "object_store_unavailable",
                "the object store is unavailable; try again shortly",
                &e,
            ),
            StoreError::Body(_) => Self::bad_request("bad_body", e.to_string()),
            StoreError::NotFound(_) | StoreError::InvalidKey(_) => Self::incident(
                StatusCode::INTERNAL_SERVER_ERROR,
                "object_missing",
                "an object the metadata names is not in the object store",
                &e,
            ),
        }
    }
}

/// A use case's refusal, answered with its code: where every business
/// outcome becomes an HTTP status, once.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = match &r {
            Refusal::NotFound { .. } => StatusCode::NOT_FOUND,
            Refusal::Forbidden(_) => return Self::forbidden(r.to_string()),
            Refusal::Unauthenticated(_) => return Self::unauthorized(r.to_string()),
            Refusal::Conflict { .. } => StatusCode::CONFLICT,
            Refusal::Gone { .. } => StatusCode::GONE,
            Refusal::Invalid { .. } => StatusCode::BAD_REQUEST,
            Refusal::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::TooMany {
                code,
                message,
                retry_after,
            } => return Self::too_many(code, message.clone(), *retry_after),
            Refusal::Meta(_) | Refusal::Store(_) => return Self::from_backend(r),
        };
        let code = match &r {
            Refusal::NotFound { code, .. }
            | Refusal::Conflict { code, .. }
            | Refusal::Gone { code, .. }
            | Refusal::Invalid { code, .. }
            | Refusal::Unavailable { code, .. } => code,
            _ => "internal",
        };
        Self::new(status, code, r.to_string())
    }
}

impl ApiError {
    /// A backend's failure under a use case.
    fn from_backend(r: Refusal) -> Self {
        match r {
            Refusal::Meta(e) => e.into(),
            Refusal::Store(e) => e.into(),
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

/// A JSON body that is missing, malformed or of the wrong shape: 400.
pub type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(e.status(), "payload_too_large", e.body_text());
        }
        Self::bad_request("invalid_body", e.body_text())
    }
}

impl From<RailError> for ApiError {
    fn from(e: RailError) -> Self {
        Self::incident(
            StatusCode::SERVICE_UNAVAILABLE,
            "rail_unavailable",
            "the job rail is unavailable; try again shortly",
            &e,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before: the backend's own message (here naming a URL with its
    /// password) went to the client.
    #[test]
    fn backend_errors_answer_an_incident_not_their_details() {
        let e = ApiError::from(MetaError::backend(
            "mysql://root:hunter2@db.internal:3306/x: connection refused",
        ));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.message.contains("hunter2") && !e.message.contains("db.internal"));
        let id = e.incident.clone().expect("an incident id");
        assert!(e.message.contains(&id), "{}", e.message);
        let e = ApiError::from(RailError::backend("redis://:pw@cache:6379 down"));
        assert!(!e.message.contains("pw@"), "{}", e.message);
    }
}

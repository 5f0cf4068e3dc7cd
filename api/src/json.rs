//! [`JsonBody`]: a JSON request body extractor whose every rejection is an [`ApiError`], so a
//! bad body gets the same error shape as everything else (axum's own `Json` answers in plain
//! text).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{HeaderMap, StatusCode, header},
};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A request body that must be JSON (`application/json` or `application/*+json`) and decode
/// into `T`.
///
/// - wrong or missing content type → 415 `unsupported_media_type`
/// - larger than `api.max_body_bytes` → 413 `payload_too_large`
/// - not JSON → 400 `invalid_json`
/// - JSON that does not fit `T` (missing or unknown field, wrong type) → 422 `invalid_body`,
///   and so is anything but an object (serde would read a struct from an array too)
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: state.max_body_bytes(),
                }
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        let body = serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::InvalidBody(e.to_string()),
            _ => ApiError::InvalidJson(e.to_string()),
        })?;
        if !is_object(&bytes) {
            return Err(not_an_object());
        }
        Ok(JsonBody(body))
    }
}

/// Whether a body that parsed as JSON is an object (every body the API takes is one).
pub(crate) fn is_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// 422 for a JSON body that is not an object.
pub(crate) fn not_an_object() -> ApiError {
    ApiError::InvalidBody("the body must be a JSON object".into())
}

fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5
                && subtype.as_bytes()[subtype.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    #[test]
    fn only_an_object_is_a_body() {
        assert!(is_object(b" \n{\"holdings\": []}"));
        assert!(!is_object(b"[[]]"));
        assert!(!is_object(b"[]"));
        assert!(!is_object(b"null"));
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters_and_suffixes() {
        assert!(has_json_content_type(&with("application/json")));
        assert!(has_json_content_type(&with(
            "Application/JSON; charset=utf-8"
        )));
        assert!(has_json_content_type(&with("application/vnd.api+json")));
        assert!(!has_json_content_type(&with("text/plain")));
        assert!(!has_json_content_type(&with("application/jsonx")));
        assert!(!has_json_content_type(&with("application/+json")));
        assert!(!has_json_content_type(&HeaderMap::new()));
    }
}

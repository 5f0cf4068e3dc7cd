//! CORS from settings: `api.cors_origins` lists the browser origins allowed to call the API
//! (`["*"]` for any). Empty, the API sends no CORS headers at all and browsers keep other sites
//! out. Credentials (cookies) are never allowed: callers authenticate with a bearer token.

use std::time::Duration;

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Why an origin in the settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("api.cors_origins: {origin:?} is not a valid origin (e.g. https://app.example.com)")]
pub struct CorsError {
    origin: String,
}

/// The layer for `origins`, or `None` when none are allowed.
pub fn layer(origins: &[String]) -> Result<Option<CorsLayer>, CorsError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|origin| {
                let parsed = HeaderValue::from_str(origin.trim_end_matches('/'));
                match parsed {
                    Ok(v) if origin.starts_with("http://") || origin.starts_with("https://") => {
                        Ok(v)
                    }
                    _ => Err(CorsError {
                        origin: origin.clone(),
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([header::RETRY_AFTER, header::LOCATION])
            .max_age(Duration::from_secs(600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_origins_is_no_layer_and_a_bad_origin_is_named() {
        assert!(layer(&[]).unwrap().is_none());
        assert!(
            layer(&["https://app.example.com".into()])
                .unwrap()
                .is_some()
        );
        assert!(layer(&["*".into()]).unwrap().is_some());
        let err = layer(&["app.example.com".into()]).unwrap_err();
        assert!(err.to_string().contains("app.example.com"), "{err}");
    }
}

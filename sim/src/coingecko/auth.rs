//! How a CoinGecko request authenticates: a demo or a pro key, in a header or in the query.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{HeaderMap, Uri};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthKind {
    None,
    DemoHeader,
    DemoQuery,
    ProHeader,
    ProQuery,
}

impl AuthKind {
    /// The key of [`crate::Stats::by_auth`].
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::DemoHeader => "demo_header",
            Self::DemoQuery => "demo_query",
            Self::ProHeader => "pro_header",
            Self::ProQuery => "pro_query",
        }
    }
}

#[derive(Debug)]
pub(super) struct Credentials {
    pub(super) kind: AuthKind,
    pub(super) key: Option<String>,
}

/// Headers win over query parameters, and pro over demo, when a request carries several.
pub(super) fn credentials(headers: &HeaderMap, uri: &Uri) -> Credentials {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut query = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let found = [
        (AuthKind::ProHeader, header("x-cg-pro-api-key")),
        (AuthKind::DemoHeader, header("x-cg-demo-api-key")),
        (AuthKind::ProQuery, query.remove("x_cg_pro_api_key")),
        (AuthKind::DemoQuery, query.remove("x_cg_demo_api_key")),
    ]
    .into_iter()
    .find_map(|(kind, key)| {
        key.map(|key| Credentials {
            kind,
            key: Some(key),
        })
    });
    found.unwrap_or(Credentials {
        kind: AuthKind::None,
        key: None,
    })
}

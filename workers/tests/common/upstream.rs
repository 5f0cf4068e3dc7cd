//! What the upstream client tests share: exact decimals from their text, a base URL nothing
//! listens on, and the requests a wiremock server received, read as path, query and headers.

#![allow(dead_code)] // Each test binary uses a different part.

use rust_decimal::Decimal;
use wiremock::{MockServer, Request};

/// The decimal `text` spells, exactly (no rounding).
pub fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// `actual` is the number `expected` spells, with the same digits: `1.50` is not `1.5` here,
/// so a figure that went through a float or was rescaled fails.
#[track_caller]
pub fn assert_exact(actual: Option<Decimal>, expected: &str) {
    assert_eq!(actual, Some(dec(expected)), "value of {expected}");
    assert_eq!(
        actual.map(|d| d.to_string()).as_deref(),
        Some(expected),
        "digits of {expected}"
    );
}

/// A base URL on a local port nothing listens on (bound, then released), so connecting is
/// refused at once.
pub fn refusing_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// Every request `server` received, in order.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// A request's query, decoded, as `(name, value)` pairs in the order sent.
pub fn query(request: &Request) -> Vec<(String, String)> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `request`'s path and decoded query: `("/simple/price", [("ids", "bitcoin"), ..])`.
pub fn path_and_query(request: &Request) -> (String, Vec<(String, String)>) {
    (request.url.path().to_owned(), query(request))
}

/// Owned `(name, value)` pairs, to compare with [`query`].
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

//! What the upstream client tests share: exact decimals from their text, a base URL nothing
//! listens on, wiremock servers with canned answers, and the requests a wiremock server
//! received, read as path, query and headers.

#![allow(dead_code)] // Each test binary uses a different part.

use rust_decimal::Decimal;
use wiremock::{
    Mock, MockBuilder, MockServer, Request, ResponseTemplate,
    matchers::{any, method, path},
};

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

/// A JSON answer sent byte for byte as written (never re-serialized, so exponent notation,
/// long fractions and an upstream's mixed types reach the client as the upstream writes them).
pub fn json_body(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// A server that answers every request with `response`.
pub async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// A mock for `GET at`.
fn get(at: &str) -> MockBuilder {
    Mock::given(method("GET")).and(path(at))
}

/// A server whose `GET at` answers `response` (anything else finds no mock: a 404).
pub async fn answering_at(at: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    get(at).respond_with(response).mount(&server).await;
    server
}

/// A server whose `GET at` answers `failure` the first `times` times, then `success`.
pub async fn failing_then(
    at: &str,
    failure: ResponseTemplate,
    times: u64,
    success: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    get(at)
        .respond_with(failure)
        .up_to_n_times(times)
        .mount(&server)
        .await;
    get(at).respond_with(success).mount(&server).await;
    server
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

/// Every request `server` received, as [`path_and_query`], in order.
pub async fn sent(server: &MockServer) -> Vec<(String, Vec<(String, String)>)> {
    requests(server).await.iter().map(path_and_query).collect()
}

/// Owned `(name, value)` pairs, to compare with [`query`].
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

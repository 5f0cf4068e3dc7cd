//! What every upstream client shares: how its HTTP client is built (user agent, timeouts,
//! default headers) and how an answer is read (status, `Retry-After`, body), so each provider
//! module only decides what the answer means.

use std::time::Duration;

use reqwest::{StatusCode, header::HeaderMap};

/// How long a connection may take to open, for every upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP client for one upstream: our user agent, the request timeout, `headers` on every call.
pub fn client(timeout_ms: u64, headers: HeaderMap) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(concat!("coinbeat/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_millis(timeout_ms.max(1)))
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// An upstream's answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The `Retry-After` header in seconds, when present.
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answer {
    /// Sends `request` and reads the answer.
    pub async fn fetch(request: reqwest::RequestBuilder) -> reqwest::Result<Self> {
        let response = request.send().await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await?;
        Ok(Self {
            status,
            retry_after,
            body,
        })
    }

    /// The start of the body, for error messages (an HTML error page can be long).
    pub fn excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

/// The first 200 characters of `body`.
pub fn excerpt(body: &str) -> String {
    body.chars().take(200).collect()
}

//! What every upstream client shares: how its HTTP client is built (user agent, timeouts,
//! default headers, no redirects) and how an answer is read (status, `Retry-After`, a body of at
//! most `upstream.max_body_bytes`), so each provider module only decides what the answer means.

use std::time::Duration;

use chrono::{DateTime, Utc};

use reqwest::{StatusCode, header::HeaderMap};

/// How long a connection may take to open, for every upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP client for one upstream: our user agent, the request timeout, `headers` on every call.
///
/// It follows no redirect: `headers` can carry an API key (CoinGecko's `x-cg-*-api-key`), which
/// reqwest would send on to whatever host a `Location` names. A 3xx is handed to the provider
/// module as an answer like any other; see [`REDIRECT_NOT_FOLLOWED`].
pub fn client(timeout_ms: u64, headers: HeaderMap) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("coinbeat/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_millis(timeout_ms.max(1)))
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// What a provider module says of a 3xx. The providers' APIs do not redirect, so a redirect
/// means a base URL that is wrong or has moved (`http://` for `https://`, a renamed host), or
/// something between us and the upstream; the same request meets it again, so it is permanent
/// (no retry, which would only spend rate-limit permits) and the fix is the base URL.
pub const REDIRECT_NOT_FOLLOWED: &str =
    "redirected; redirects are not followed (check the provider's base_url)";

/// Why no answer could be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connect failure, timeout, reset, a body cut off.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    /// The body is longer than `upstream.max_body_bytes`: reading stopped there.
    #[error("the answer is larger than upstream.max_body_bytes ({cap} bytes); not read further")]
    TooLarge { cap: usize },
}

/// An upstream's answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// When the request went out (after its permit): the moment the answer speaks of, at the
    /// latest, so a record dated by it never looks fresher than it is.
    pub sent_at: DateTime<Utc>,
    pub status: StatusCode,
    /// The `Retry-After` header in seconds, when present.
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Answer {
    /// Sends `request` and reads the answer, refusing a body longer than `max_body_bytes`.
    pub async fn fetch(
        request: reqwest::RequestBuilder,
        max_body_bytes: usize,
    ) -> Result<Self, FetchError> {
        let sent_at = Utc::now();
        let mut response = request.send().await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let too_large = FetchError::TooLarge {
            cap: max_body_bytes,
        };
        // A declared length says it at once; the chunks below hold whatever is not declared
        // (chunked encoding, a decompressed gzip body, a server that lies).
        if response
            .content_length()
            .is_some_and(|n| n > max_body_bytes as u64)
        {
            return Err(too_large);
        }
        // Chunk by chunk, so at most the cap and one chunk are ever held.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if bytes.len() + chunk.len() > max_body_bytes {
                return Err(too_large);
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Self {
            sent_at,
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server that answers one request with a chunked body that never ends (no
    /// `Content-Length` to refuse it by), as a broken or hostile upstream might.
    async fn endless_body() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            // Until the client hangs up.
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn a_body_without_a_length_is_read_up_to_the_cap_and_no_further() {
        let url = endless_body().await;
        let http = client(30_000, HeaderMap::new()).unwrap();

        let error = Answer::fetch(http.get(url), 1 << 20).await.unwrap_err();

        assert!(
            matches!(error, FetchError::TooLarge { cap } if cap == 1 << 20),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the answer is larger than upstream.max_body_bytes (1048576 bytes); not read further"
        );
    }
}

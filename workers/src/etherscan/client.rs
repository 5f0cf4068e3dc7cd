//! HTTP calls to Etherscan API V2 with the configured key, timeout and base URL.

use std::time::Duration;

use coinbeat_shared::{
    domain::{Address, Chain, Units},
    ratelimit::Provider,
    settings::Secret,
};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{EtherscanError, NormalTx, TokenTransfer, rows};
use crate::{
    boot::WorkerEnv,
    http::{Answer, excerpt},
    upstream::{Reading, Upstream},
};

/// One page of a list: Etherscan's `page` (from 1) and `offset` (rows per page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

/// An Etherscan API V2 client. Cheap to clone. It exists only with a key: V2 refuses every
/// request without one.
#[derive(Debug, Clone)]
pub struct Etherscan {
    upstream: Upstream,
    endpoint: String,
    key: Secret,
    rate_limit_retry: Duration,
}

/// Etherscan's envelope: `{"status": "1"|"0", "message": "...", "result": ...}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    result: Value,
}

impl Etherscan {
    /// The client `env`'s settings describe, behind Etherscan's shared limiter (per key) and
    /// breaker. Fails with [`EtherscanError::MissingKey`] when no key is configured.
    pub fn new(env: &WorkerEnv) -> Result<Self, EtherscanError> {
        let settings = &env.settings.providers.etherscan;
        let key = settings.key().ok_or(EtherscanError::MissingKey)?.clone();
        let http = crate::http::client(settings.timeout_ms, Default::default())
            .map_err(|e| EtherscanError::Transport(e.without_url()))?;
        let upstream = Upstream::new(env, Provider::Etherscan, http).map_err(|e| {
            EtherscanError::Gate(crate::upstream::GateError::Config {
                provider: Provider::Etherscan,
                message: format!("providers.etherscan.rate_limit: {e}"),
            })
        })?;
        Ok(Self {
            upstream,
            endpoint: format!("{}/v2/api", settings.effective_base_url()),
            key,
            rate_limit_retry: Duration::from_millis(settings.rate_limit_retry_ms),
        })
    }

    /// The balance of the zero address on Ethereum: whether Etherscan answers and takes the key
    /// (the health worker's probe).
    pub async fn ping(&self) -> Result<(), EtherscanError> {
        let zero = Address::parse("0x0000000000000000000000000000000000000000")
            .expect("the zero address is an address");
        self.balance(Chain::Ethereum, &zero).await.map(drop)
    }

    /// `account/balance` at the latest block, in wei.
    pub async fn balance(&self, chain: Chain, address: &Address) -> Result<Units, EtherscanError> {
        let result = self
            .call(
                chain,
                "balance",
                &[("address", address.as_str()), ("tag", "latest")],
            )
            .await?;
        let digits = match &result {
            Value::String(s) => s.as_str(),
            other => {
                return Err(unreadable(format!(
                    "balance result is not a string: {other}"
                )));
            }
        };
        Units::parse(digits).map_err(|e| unreadable(format!("balance: {e}")))
    }

    /// One page of `account/txlist`, newest first. An address without transactions is an
    /// empty list (Etherscan's `status: "0"`, "No transactions found").
    pub async fn txlist(
        &self,
        chain: Chain,
        address: &Address,
        page: Page,
    ) -> Result<Vec<NormalTx>, EtherscanError> {
        let rows = self.list(chain, "txlist", address, page).await?;
        rows::normal_txs(rows).map_err(unreadable)
    }

    /// One page of `account/tokentx` (ERC-20 transfers), newest first; empty when there are none.
    pub async fn tokentx(
        &self,
        chain: Chain,
        address: &Address,
        page: Page,
    ) -> Result<Vec<TokenTransfer>, EtherscanError> {
        let rows = self.list(chain, "tokentx", address, page).await?;
        rows::token_transfers(rows).map_err(unreadable)
    }

    async fn list(
        &self,
        chain: Chain,
        action: &str,
        address: &Address,
        page: Page,
    ) -> Result<Value, EtherscanError> {
        let (number, size) = (page.number.to_string(), page.size.to_string());
        let result = self
            .call(
                chain,
                action,
                &[
                    ("address", address.as_str()),
                    ("startblock", "0"),
                    ("endblock", "99999999"),
                    ("page", &number),
                    ("offset", &size),
                    ("sort", "desc"),
                ],
            )
            .await?;
        match result {
            rows @ Value::Array(_) => Ok(rows),
            other => Err(unreadable(format!(
                "{action} result is not a list: {other}"
            ))),
        }
    }

    /// One `module=account` call; returns the envelope's `result` when it is data.
    async fn call(
        &self,
        chain: Chain,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Value, EtherscanError> {
        let chain_id = chain.id().to_string();
        tracing::debug!(provider = "etherscan", %chain, action, "upstream call");
        let retry = self.rate_limit_retry;
        // The gate strips URLs (they carry the key) from every error it returns.
        let Answer { status, body, .. } = self
            .upstream
            .fetch(
                |http| {
                    http.get(&self.endpoint)
                        .query(&[
                            ("chainid", chain_id.as_str()),
                            ("module", "account"),
                            ("action", action),
                        ])
                        .query(params)
                        .query(&[("apikey", self.key.expose())])
                },
                1,
                |answer| read(answer, retry),
            )
            .await?;
        if !status.is_success() {
            let message = excerpt(&body);
            return Err(match status {
                StatusCode::TOO_MANY_REQUESTS => EtherscanError::RateLimited {
                    message,
                    retry_after: self.rate_limit_retry,
                },
                StatusCode::UNAUTHORIZED => EtherscanError::InvalidKey { message },
                StatusCode::REQUEST_TIMEOUT => EtherscanError::Unavailable {
                    status: status.as_u16(),
                    message,
                },
                s if s.is_redirection() => EtherscanError::Rejected {
                    message: format!(
                        "HTTP {}: {}",
                        s.as_u16(),
                        crate::http::REDIRECT_NOT_FOLLOWED
                    ),
                },
                s if s.is_client_error() => EtherscanError::Rejected {
                    message: format!("HTTP {}: {message}", s.as_u16()),
                },
                s => EtherscanError::Unavailable {
                    status: s.as_u16(),
                    message,
                },
            });
        }
        let envelope: Envelope = serde_json::from_str(&body).map_err(|_| {
            // An HTML block page ("Just a moment...") or a cut-off body: not Etherscan's answer.
            unreadable(format!("not an Etherscan envelope: {}", excerpt(&body)))
        })?;
        match envelope.result {
            // Data, including `status: "0"` with `[]` ("No transactions found").
            rows @ Value::Array(_) => Ok(rows),
            result if envelope.status == "1" => Ok(result),
            // The empty-list answer in any other clothing (`null` or a string result, Blockscout's
            // "No token transfers found"): still no rows, not a refusal.
            result if is_nothing_found(&envelope.message, &result) => Ok(Value::Array(Vec::new())),
            Value::String(reason) if !reason.trim().is_empty() => Err(
                EtherscanError::from_refusal(reason.trim(), self.rate_limit_retry),
            ),
            _ => Err(EtherscanError::from_refusal(
                envelope.message.trim(),
                self.rate_limit_retry,
            )),
        }
    }
}

/// What an answer means for the shared limiter and breaker. Etherscan throttles with HTTP 200
/// and a "Max ... rate limit reached" result, and sends no `Retry-After`.
fn read(answer: &Answer, rate_limit_retry: Duration) -> Reading {
    let status = answer.status.as_u16();
    if status == 429 {
        return Reading::Throttled(answer.retry_after.unwrap_or(rate_limit_retry));
    }
    if status == 408 || status >= 500 {
        return Reading::Failed;
    }
    let throttled = status == 200
        && serde_json::from_str::<Envelope>(&answer.body).is_ok_and(|envelope| {
            envelope.status == "0"
                && envelope
                    .result
                    .as_str()
                    .is_some_and(|r| r.to_ascii_lowercase().contains("rate limit reached"))
        });
    if throttled {
        let reason = serde_json::from_str::<Envelope>(&answer.body)
            .ok()
            .and_then(|e| e.result.as_str().map(str::to_owned))
            .unwrap_or_default();
        Reading::Throttled(super::error::throttle_for(&reason, rate_limit_retry))
    } else {
        Reading::Answered
    }
}

/// Whether a `status: "0"` envelope says "no rows" rather than refusing.
fn is_nothing_found(message: &str, result: &Value) -> bool {
    let says = |text: &str| {
        let text = text.to_ascii_lowercase();
        text.starts_with("no ") && text.contains(" found")
    };
    says(message) || result.as_str().is_some_and(says)
}

fn unreadable(message: String) -> EtherscanError {
    EtherscanError::Unavailable {
        status: 200,
        message,
    }
}

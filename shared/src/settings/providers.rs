//! Upstream APIs: where each one is and the key to call it with. Only workers read these.

use serde::{Deserialize, Serialize};

use super::Secret;

/// Every upstream coinbeat calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersSettings {
    pub coingecko: CoinGeckoSettings,
    pub binance: BinanceSettings,
    pub etherscan: EtherscanSettings,
    pub coinlore: CoinLoreSettings,
}

/// Binance spot market data: the price worker's fallback when CoinGecko fails. No key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BinanceSettings {
    /// Empty means `https://api.binance.com`.
    pub base_url: String,
    /// Whether the price worker falls back to Binance at all.
    pub enabled: bool,
    /// A request slower than this fails.
    pub timeout_ms: u64,
}

impl Default for BinanceSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            enabled: true,
            timeout_ms: 10_000,
        }
    }
}

impl BinanceSettings {
    /// The configured base URL or the public one; never with a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = if self.base_url.is_empty() {
            "https://api.binance.com"
        } else {
            self.base_url.as_str()
        };
        url.trim_end_matches('/')
    }
}

/// CoinLore: the market worker's fallback for the top-N when CoinGecko fails. No key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CoinLoreSettings {
    /// Where `/tickers/` lives; never used with a trailing slash.
    pub base_url: String,
    /// A request slower than this fails.
    pub timeout_ms: u64,
}

impl Default for CoinLoreSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.coinlore.net/api".into(),
            timeout_ms: 10_000,
        }
    }
}

impl CoinLoreSettings {
    /// The base URL without a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// One upstream: where it is and the key to call it with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// Empty means the provider's public address.
    pub base_url: String,
    pub api_key: Option<Secret>,
}

/// CoinGecko: a keyless or demo key on the public host, or a pro key on the pro host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CoinGeckoSettings {
    /// Empty means the public address of `plan` (`https://api.coingecko.com/api/v3` or
    /// `https://pro-api.coingecko.com/api/v3`).
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Which header carries the key: `x-cg-demo-api-key` or `x-cg-pro-api-key`.
    pub plan: CoinGeckoPlan,
    /// Most coin ids sent in one `/simple/price` request.
    pub max_ids_per_request: usize,
    /// Most requests one job has in flight at once (a big refresh is split into batches).
    pub max_concurrent_requests: usize,
    /// A request slower than this fails (and the job is retried).
    pub timeout_ms: u64,
}

impl Default for CoinGeckoSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            plan: CoinGeckoPlan::Demo,
            max_ids_per_request: 250,
            max_concurrent_requests: 4,
            timeout_ms: 10_000,
        }
    }
}

impl CoinGeckoSettings {
    /// The configured base URL, or the plan's public one; never with a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = if self.base_url.is_empty() {
            match self.plan {
                CoinGeckoPlan::Demo => "https://api.coingecko.com/api/v3",
                CoinGeckoPlan::Pro => "https://pro-api.coingecko.com/api/v3",
            }
        } else {
            self.base_url.as_str()
        };
        url.trim_end_matches('/')
    }
}

/// CoinGecko's plans differ in host and key header.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CoinGeckoPlan {
    #[default]
    Demo,
    Pro,
}

/// Etherscan API V2 (one host for every chain, `chainid` per request): the wallet worker's only
/// upstream. The key is required: without it a wallet job fails at once, naming
/// `ETHERSCAN_API_KEY`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EtherscanSettings {
    /// Empty means `https://api.etherscan.io`; requests go to `{base_url}/v2/api`.
    pub base_url: String,
    /// Read from `ETHERSCAN_API_KEY` too. Sent as the `apikey` query parameter, so request URLs
    /// are never logged.
    pub api_key: Option<Secret>,
    /// A request slower than this fails (and the job is retried).
    pub timeout_ms: u64,
    /// How long a job waits before retrying after Etherscan's "Max rate limit reached" body
    /// (Etherscan sends no `Retry-After`; its limits are per second).
    pub rate_limit_retry_ms: u64,
}

impl Default for EtherscanSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            timeout_ms: 15_000,
            rate_limit_retry_ms: 1_000,
        }
    }
}

impl EtherscanSettings {
    /// The configured base URL or the public one; never with a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = if self.base_url.is_empty() {
            "https://api.etherscan.io"
        } else {
            self.base_url.as_str()
        };
        url.trim_end_matches('/')
    }

    /// The key, if one is set and not blank.
    pub fn key(&self) -> Option<&Secret> {
        self.api_key
            .as_ref()
            .filter(|k| !k.expose().trim().is_empty())
    }
}

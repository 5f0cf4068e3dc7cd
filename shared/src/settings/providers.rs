//! Upstream APIs: where each one is, the key to call it with and how fast we may call it.
//! Only workers read these.

use serde::{Deserialize, Serialize};

use super::{Secret, SettingsError};
use crate::ratelimit::{LimiterId, Provider, RateSpec, RateSpecError};

/// Every upstream coinbeat calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersSettings {
    pub coingecko: CoinGeckoSettings,
    pub binance: BinanceSettings,
    pub etherscan: EtherscanSettings,
    pub coinlore: CoinLoreSettings,
    pub coincap: CoinCapSettings,
    pub alchemy: AlchemySettings,
    pub alphavantage: AlphaVantageSettings,
}

impl ProvidersSettings {
    /// Every provider's `rate_limit` parses; the error names the setting and says what is
    /// wrong with it.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for provider in Provider::ALL {
            self.rate_spec(provider)
                .map_err(|source| SettingsError::RateLimit {
                    setting: format!("providers.{provider}.rate_limit"),
                    source,
                })?;
        }
        Ok(())
    }

    /// The parsed `rate_limit` of one provider.
    pub fn rate_spec(&self, provider: Provider) -> Result<RateSpec, RateSpecError> {
        RateSpec::parse(match provider {
            Provider::CoinGecko => &self.coingecko.rate_limit,
            Provider::Binance => &self.binance.rate_limit,
            Provider::Etherscan => &self.etherscan.rate_limit,
            Provider::CoinLore => &self.coinlore.rate_limit,
            Provider::Alchemy => &self.alchemy.rate_limit,
            Provider::CoinCap => &self.coincap.rate_limit,
            Provider::AlphaVantage => &self.alphavantage.rate_limit,
        })
    }

    /// The limiter one provider's calls go through: per key where the provider limits per
    /// key (CoinGecko with a key, Etherscan, Alchemy, CoinCap), per provider otherwise (Binance
    /// and CoinLore limit per IP address; so does keyless CoinGecko).
    pub fn limiter_id(&self, provider: Provider) -> LimiterId {
        match provider {
            Provider::CoinGecko => LimiterId::for_key(provider, self.coingecko.api_key.as_ref()),
            Provider::Etherscan => LimiterId::for_key(provider, self.etherscan.api_key.as_ref()),
            Provider::Alchemy => LimiterId::for_key(provider, self.alchemy.api_key.as_ref()),
            Provider::CoinCap => LimiterId::for_key(provider, self.coincap.api_key.as_ref()),
            Provider::AlphaVantage => {
                LimiterId::for_key(provider, self.alphavantage.api_key.as_ref())
            }
            Provider::Binance | Provider::CoinLore => LimiterId::new(provider),
        }
    }

    /// Whether `provider` has a key that is set and not blank (Binance and CoinLore need
    /// none, CoinGecko works without one).
    pub fn has_key(&self, provider: Provider) -> bool {
        let key = match provider {
            Provider::CoinGecko => self.coingecko.api_key.as_ref(),
            Provider::Etherscan => self.etherscan.api_key.as_ref(),
            Provider::Alchemy => self.alchemy.api_key.as_ref(),
            Provider::CoinCap => self.coincap.api_key.as_ref(),
            Provider::AlphaVantage => self.alphavantage.api_key.as_ref(),
            Provider::Binance | Provider::CoinLore => None,
        };
        key.is_some_and(|k| !k.expose().trim().is_empty())
    }
}

/// Binance spot market data: the price worker's fallback when CoinGecko fails. No key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BinanceSettings {
    /// Empty means `https://api.binance.com`.
    pub base_url: String,
    /// Where the market streams are (`{ws_url}/stream?streams=…`). Empty means
    /// `wss://stream.binance.com:9443`. `COINBEAT_PROVIDERS__BINANCE__WS_URL`.
    pub ws_url: String,
    /// Whether the price worker falls back to Binance at all.
    pub enabled: bool,
    /// A request slower than this fails.
    pub timeout_ms: u64,
    /// Request weight allowed (each request costs its weight, 2 to 80 for `/ticker/24hr`), like
    /// `6000/min`; `off` for none. Default `6000/min`: Binance's documented `REQUEST_WEIGHT`
    /// limit of 6000 per minute per IP. Its other limit, 61,000 raw requests per 5 minutes,
    /// never binds first, since every request weighs at least 1.
    pub rate_limit: String,
}

impl Default for BinanceSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            ws_url: String::new(),
            enabled: true,
            timeout_ms: 10_000,
            rate_limit: "6000/min".into(),
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

    /// The configured stream URL or the public one; never with a trailing slash.
    pub fn effective_ws_url(&self) -> &str {
        let url = if self.ws_url.is_empty() {
            "wss://stream.binance.com:9443"
        } else {
            self.ws_url.as_str()
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
    /// Requests allowed, like `1/s`; `off` for none. Default `1/s`: CoinLore documents no
    /// limit, so we stay polite at the pace its existing clients keep (one request a second);
    /// it is only a fallback, and a top-N of a few hundred coins is a few pages.
    pub rate_limit: String,
}

impl Default for CoinLoreSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.coinlore.net/api".into(),
            timeout_ms: 10_000,
            rate_limit: "1/s".into(),
        }
    }
}

impl CoinLoreSettings {
    /// The base URL without a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// CoinCap: the stream-worker's second source of live prices, streamed while Binance's streams
/// are silent or failing (`{ws_url}/prices?assets=…&apiKey=…`), and a link of the price chain
/// (`prices.providers`) through its REST API (`{base_url}/assets?ids=…`). v3 needs a key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CoinCapSettings {
    /// Empty means `https://rest.coincap.io/v3`. `COINBEAT_PROVIDERS__COINCAP__BASE_URL`.
    pub base_url: String,
    /// Empty means `wss://wss.coincap.io`. `COINBEAT_PROVIDERS__COINCAP__WS_URL`.
    pub ws_url: String,
    /// A REST request slower than this fails.
    pub timeout_ms: u64,
    /// REST requests allowed per key, like `30/min`; `off` for none. Default `30/min`:
    /// CoinCap v3 sells credits by plan and documents no free figure we could confirm (v2
    /// allowed 500/min with a key), so the default is CoinGecko's free pace. Set your plan's.
    /// The stream takes no permits.
    pub rate_limit: String,
    /// `COINBEAT_PROVIDERS__COINCAP__API_KEY` or `COINCAP_API_KEY`.
    pub api_key: Option<Secret>,
    /// CoinCap's asset id by symbol where it differs from the coin's CoinGecko id
    /// (`prices.coins`). Built in: the two of the default tracked set known to differ
    /// (`binancecoin` is `binance-coin`, `avalanche-2` is `avalanche`).
    pub ids: std::collections::BTreeMap<String, String>,
}

/// CoinCap asset ids that differ from CoinGecko's for the default tracked set.
const COINCAP_IDS: [(&str, &str); 2] = [("BNB", "binance-coin"), ("AVAX", "avalanche")];

impl Default for CoinCapSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            ws_url: String::new(),
            timeout_ms: 10_000,
            rate_limit: "30/min".into(),
            api_key: None,
            ids: COINCAP_IDS
                .iter()
                .map(|(s, id)| ((*s).to_owned(), (*id).to_owned()))
                .collect(),
        }
    }
}

impl CoinCapSettings {
    /// The configured REST URL or the public one; never with a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = if self.base_url.is_empty() {
            "https://rest.coincap.io/v3"
        } else {
            self.base_url.as_str()
        };
        url.trim_end_matches('/')
    }

    /// The configured stream URL or the public one; never with a trailing slash.
    pub fn effective_ws_url(&self) -> &str {
        let url = if self.ws_url.is_empty() {
            "wss://wss.coincap.io"
        } else {
            self.ws_url.as_str()
        };
        url.trim_end_matches('/')
    }

    /// CoinCap's id of the coin whose CoinGecko id is `coingecko_id`.
    pub fn asset_id<'a>(&'a self, symbol: &str, coingecko_id: &'a str) -> &'a str {
        self.ids.get(symbol).map_or(coingecko_id, String::as_str)
    }
}

/// Alchemy's Prices API: a link of the price chain (`prices.providers`), asked by symbol
/// (`{base_url}/{key}/tokens/by-symbol?symbols=…`). A key is required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlchemySettings {
    /// Empty means `https://api.g.alchemy.com/prices/v1`.
    /// `COINBEAT_PROVIDERS__ALCHEMY__BASE_URL`.
    pub base_url: String,
    /// `COINBEAT_PROVIDERS__ALCHEMY__API_KEY` or `ALCHEMY_API_KEY`. A path segment of every
    /// request, as Alchemy's clients send it; request URLs are never logged.
    pub api_key: Option<Secret>,
    /// A request slower than this fails.
    pub timeout_ms: u64,
    /// Requests allowed per key, like `300/hour`; `off` for none. Default `300/hour`: the free
    /// tier's documented limit (Pay As You Go `10000/hour`).
    pub rate_limit: String,
}

impl Default for AlchemySettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            timeout_ms: 10_000,
            rate_limit: "300/hour".into(),
        }
    }
}

impl AlchemySettings {
    /// The configured base URL or the public one; never with a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = if self.base_url.is_empty() {
            "https://api.g.alchemy.com/prices/v1"
        } else {
            self.base_url.as_str()
        };
        url.trim_end_matches('/')
    }
}

/// Alpha Vantage: the exchange rates from USD (`CURRENCY_EXCHANGE_RATE`, one pair a request)
/// the `rates` queue stores. A key is required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlphaVantageSettings {
    /// Empty means `https://www.alphavantage.co`; requests go to `{base_url}/query`.
    pub base_url: String,
    /// `COINBEAT_PROVIDERS__ALPHAVANTAGE__API_KEY` or `ALPHAVANTAGE_API_KEY`. Sent as the
    /// `apikey` query parameter; request URLs are never logged.
    pub api_key: Option<Secret>,
    /// A request slower than this fails.
    pub timeout_ms: u64,
    /// Requests allowed per key, like `25/day`; `off` for none. Default `25/day`: the free
    /// key's limit (premium plans `75/min` and up).
    pub rate_limit: String,
}

impl Default for AlphaVantageSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            timeout_ms: 10_000,
            rate_limit: "25/day".into(),
        }
    }
}

impl AlphaVantageSettings {
    /// The configured base URL or the public one; never with a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        let url = if self.base_url.is_empty() {
            "https://www.alphavantage.co"
        } else {
            self.base_url.as_str()
        };
        url.trim_end_matches('/')
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
    /// Requests allowed, like `30/min`; `off` for none. Default `30/min, 10000/month`: the
    /// "~30 calls per minute" and the 10,000 calls a month of CoinGecko's free Demo plan
    /// (newer pages say 100/min for a Demo key, and keyless use, limited per IP, often gets
    /// 429s sooner, so the lower figure is the safe one). The default schedule fits it
    /// (`coinbeat plan`). Raise it to your plan's figures (paid plans `500/min, 500000/month`,
    /// ...).
    pub rate_limit: String,
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
            rate_limit: "30/min, 10000/month".into(),
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
    /// Requests allowed per key, like `3/s, 100000/day`; `off` for none. Default
    /// `3/s, 100000/day`: Etherscan's free tier (the live server enforces 3/s, "Max calls per
    /// sec rate limit reached (3/sec)"). Paid tiers: Lite `5/s, 100000/day`, Standard
    /// `10/s, 200000/day`, ... Etherscan counts the limits across all keys of one account.
    pub rate_limit: String,
}

impl Default for EtherscanSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            timeout_ms: 15_000,
            rate_limit_retry_ms: 1_000,
            rate_limit: "3/s, 100000/day".into(),
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

//! What a simulator starts with: where it listens, how its market moves, which faults it injects.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::{Provider, SimError};

/// Settings of one simulator. `Default` listens on an ephemeral port of 127.0.0.1, which is what
/// tests want; the binary defaults to 127.0.0.1:9180.
#[derive(Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Seeds the price walks, the Etherscan ledgers and the error injection: the same seed and the
    /// same steps give the same answers, whatever order requests arrive in.
    pub seed: u64,
    /// How often prices take a step, in milliseconds. 0 freezes them: steps then come only from
    /// `advance_steps` in a [`crate::ControlRequest`].
    pub step_ms: u64,
    /// Synthetic coins `sim-coin-00001` ..= `sim-coin-{N}` on top of the built-in ones: a
    /// realistic long tail (generated names, tickers that sometimes collide, sub-cent prices,
    /// contracts on several chains) for catalogue and load tests. Their prices cost nothing until
    /// requested; naming 14,000 of them takes about 20 ms at start (release build).
    pub extra_coins: u32,
    /// Length of a churn epoch in seconds of the sim's running time. From the second epoch on,
    /// about 1% of the synthetic coins are unlisted in each epoch (a new draw per epoch, so
    /// coins vanish and come back); the first epoch lists every coin, so a sim younger than this
    /// has a stable universe. 0: no churn, ever. `advance_churn_epochs` in a
    /// [`crate::ControlRequest`] begins epochs early; price steps do not move epochs.
    pub churn_epoch_secs: u64,
    /// Faults at start; `/sim/control` changes them at run time.
    pub faults: Faults,
    /// When non-empty, keyed endpoints demand one of these keys (CoinGecko: demo or pro, header or
    /// query; Etherscan and Alpha Vantage: `apikey`; Alchemy: the key in its path; CoinCap REST: a
    /// bearer token or `apiKey`; CoinCap's stream: `apiKey`); when empty, CoinGecko and CoinCap's
    /// stream accept any key or none, and Etherscan, Alchemy, CoinCap REST and Alpha Vantage any
    /// non-empty key (they always require one).
    pub api_keys: Vec<String>,
    /// The WebSocket streams: how fast they tick, ping, and how long a connection may live.
    pub streams: StreamConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 42,
            step_ms: 1000,
            extra_coins: 0,
            churn_epoch_secs: DEFAULT_CHURN_EPOCH_SECS,
            faults: Faults::default(),
            api_keys: Vec::new(),
            streams: StreamConfig::default(),
        }
    }
}

/// The simulated WebSocket streams (Binance's combined streams, CoinCap's prices). Their faults
/// (silence, malformed frames, drops) are per provider in [`ProviderFaults`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StreamConfig {
    /// Trade events per second per symbol on a `<symbol>@aggTrade` stream.
    pub trades_per_sec: f64,
    /// How often the server sends a ping frame (Binance: every 20 s).
    pub ping_secs: u64,
    /// A connection that has not answered a ping with a pong this long is closed (Binance: 60 s).
    pub pong_timeout_secs: u64,
    /// The server closes every connection this long after it opened (Binance: 24 h); tests
    /// compress it to watch a client reconnect.
    pub lifetime_secs: u64,
    /// Lists the synthetic coins (`extra_coins`) on Binance too, as `{SYMBOL}USDT` with their
    /// generated ticker (`ZORUSDT`), so the REST tickers and the streams accept them: a benchmark
    /// can stream a thousand symbols. Binance has one pair per ticker, so only the first
    /// synthetic coin to hold a ticker (in catalogue order) gets its pair: copycats sharing it do
    /// not, nor does a synthetic coin with a built-in ticker (`BTCUSDT` is always bitcoin). A
    /// pair is absent while its coin is unlisted. Off by default, because the real Binance lists
    /// only real coins and tests of "not listed on Binance" rely on synthetic ones.
    #[serde(default)]
    pub list_synthetic_on_binance: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            trades_per_sec: 4.0,
            ping_secs: 20,
            pong_timeout_secs: 60,
            lifetime_secs: 86_400,
            list_synthetic_on_binance: false,
        }
    }
}

// Keys are fake here, but they are still never printed, like everywhere else in coinbeat.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("addr", &self.addr)
            .field("seed", &self.seed)
            .field("step_ms", &self.step_ms)
            .field("extra_coins", &self.extra_coins)
            .field("churn_epoch_secs", &self.churn_epoch_secs)
            .field("streams", &self.streams)
            .field("faults", &self.faults)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .finish()
    }
}

/// An hour per churn epoch: a run of minutes sees a stable universe, a day's run sees coins come
/// and go.
pub const DEFAULT_CHURN_EPOCH_SECS: u64 = 3_600;

/// Binance's documented `REQUEST_WEIGHT` limit per minute and IP.
pub const BINANCE_WEIGHT_PER_MINUTE: u32 = 6000;
/// Etherscan's per-second limit as older docs give it for the free tier (newer: 3/s).
pub const ETHERSCAN_CALLS_PER_SEC: u32 = 5;

/// Faults injected into provider requests (never into `/sim/` routes). The top-level fields apply
/// to every provider; each provider's own [`ProviderFaults`] add to them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added before every provider request is answered, including rejected ones.
    pub latency_ms: u64,
    /// Fraction (0..=1) of admitted requests answered with a 5xx instead.
    pub error_rate: f64,
    /// Requests per sliding minute, per provider, before answers turn into that provider's
    /// rate-limit answer; 0 means unlimited. Every answered request counts, errors included, as
    /// on CoinGecko; rate-limited ones do not, so a `retry-after` is honest.
    pub rate_limit_per_minute: u32,
    /// Every provider endpoint answers 5xx while set.
    pub down: bool,
    pub coingecko: ProviderFaults,
    pub binance: ProviderFaults,
    pub etherscan: ProviderFaults,
    pub coinlore: ProviderFaults,
    #[serde(default)]
    pub coincap: ProviderFaults,
    #[serde(default)]
    pub alchemy: ProviderFaults,
    #[serde(default)]
    pub alphavantage: ProviderFaults,
    /// Binance request weight per sliding minute before 429s; 0 means unlimited.
    pub binance_weight_per_minute: u32,
    /// Etherscan calls per sliding second before its `Max calls per sec` answer; 0 means unlimited.
    pub etherscan_calls_per_sec: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            rate_limit_per_minute: 0,
            down: false,
            coingecko: ProviderFaults::default(),
            binance: ProviderFaults::default(),
            etherscan: ProviderFaults::default(),
            coinlore: ProviderFaults::default(),
            coincap: ProviderFaults::default(),
            alchemy: ProviderFaults::default(),
            alphavantage: ProviderFaults::default(),
            binance_weight_per_minute: BINANCE_WEIGHT_PER_MINUTE,
            etherscan_calls_per_sec: ETHERSCAN_CALLS_PER_SEC,
        }
    }
}

/// One provider's own faults, on top of the global ones: latencies add up, the larger error rate
/// wins, and either `down` takes the provider down.
///
/// The `stream_` faults apply to the providers with a WebSocket stream (Binance, CoinCap) and to
/// connections already open as well as new ones; `down` only refuses new upgrades (503), an open
/// stream stays open. There is no global switch for them: a stream fault names its provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderFaults {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub down: bool,
    /// Requests per sliding minute this provider admits before its rate-limit answer, on top of
    /// the global one (the stricter wins); 0 means no limit of its own.
    pub rate_limit_per_minute: u32,
    /// Requests per sliding second this provider admits before answering with its rate-limit
    /// answer (as the per-minute limit does); 0 means unlimited.
    pub calls_per_sec: u32,
    /// Requests per sliding 24 hours this provider admits before its rate-limit answer (Alpha
    /// Vantage's free key: 25 a day); 0 means unlimited. The window slides over the sim's
    /// running time (tokio's clock, so paused-time tests can cross it), not over price steps.
    /// Like `calls_per_sec`, it counts admitted requests only while a limit is set;
    /// `/sim/reset` empties it.
    #[serde(default)]
    pub calls_per_day: u32,
    /// While set, stream connections stay open and keep pinging and answering pings but send no
    /// data frame: the "connected but silent" upstream a client must notice by the lack of data,
    /// not by a closed socket. Data resumes when cleared.
    pub stream_silent: bool,
    /// Fraction (0..=1) of stream data frames replaced by a malformed one (truncated JSON, a
    /// payload missing its fields, a price that is not a number, a binary frame), chosen by the
    /// seed. Malformed frames are never recorded in [`crate::Served`]; they are counted in
    /// [`crate::ProviderStats::stream_frames_malformed`].
    pub stream_malformed_rate: f64,
}

/// What one provider's requests actually get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Effective {
    pub(crate) latency_ms: u64,
    pub(crate) error_rate: f64,
    pub(crate) down: bool,
    pub(crate) rate_limit_per_minute: u32,
    pub(crate) calls_per_sec: u32,
    pub(crate) calls_per_day: u32,
}

impl Faults {
    pub fn provider(&self, provider: Provider) -> &ProviderFaults {
        match provider {
            Provider::CoinGecko => &self.coingecko,
            Provider::Binance => &self.binance,
            Provider::Etherscan => &self.etherscan,
            Provider::CoinLore => &self.coinlore,
            Provider::CoinCap => &self.coincap,
            Provider::Alchemy => &self.alchemy,
            Provider::AlphaVantage => &self.alphavantage,
        }
    }

    pub fn provider_mut(&mut self, provider: Provider) -> &mut ProviderFaults {
        match provider {
            Provider::CoinGecko => &mut self.coingecko,
            Provider::Binance => &mut self.binance,
            Provider::Etherscan => &mut self.etherscan,
            Provider::CoinLore => &mut self.coinlore,
            Provider::CoinCap => &mut self.coincap,
            Provider::Alchemy => &mut self.alchemy,
            Provider::AlphaVantage => &mut self.alphavantage,
        }
    }

    pub(crate) fn effective(&self, provider: Provider) -> Effective {
        let own = self.provider(provider);
        Effective {
            latency_ms: self.latency_ms + own.latency_ms,
            error_rate: self.error_rate.max(own.error_rate),
            down: self.down || own.down,
            rate_limit_per_minute: match (self.rate_limit_per_minute, own.rate_limit_per_minute) {
                (0, own) => own,
                (global, 0) => global,
                (global, own) => global.min(own),
            },
            calls_per_sec: own.calls_per_sec,
            calls_per_day: own.calls_per_day,
        }
    }

    pub(crate) fn validate(self) -> Result<Self, SimError> {
        let rates = std::iter::once(self.error_rate)
            .chain(Provider::ALL.iter().map(|&p| self.provider(p).error_rate));
        for rate in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::ErrorRate(rate));
            }
        }
        for provider in Provider::ALL {
            let own = self.provider(provider);
            if !(0.0..=1.0).contains(&own.stream_malformed_rate) {
                return Err(SimError::MalformedRate(own.stream_malformed_rate));
            }
            if (own.stream_silent || own.stream_malformed_rate > 0.0) && !provider.has_stream() {
                return Err(SimError::NoStream(provider));
            }
        }
        Ok(self)
    }
}

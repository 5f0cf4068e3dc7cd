//! Counters of what provider endpoints were asked, served at `GET /sim/stats`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Provider;

/// Every provider request counts once in `requests_total`, `by_endpoint` and `by_auth`, whatever
/// its answer; the other counters say why a request was not served. The top-level counters sum
/// every provider; `by_provider` splits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub requests_total: u64,
    /// Keyed by route, e.g. `/api/v3/simple/price`, `/binance/api/v3/ticker/price`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Keyed by how the request authenticated: `none`, `demo_header`, `demo_query`, `pro_header`,
    /// `pro_query` (CoinGecko), `apikey` (Etherscan, Alpha Vantage), `path_key` (Alchemy),
    /// `bearer`, `apikey_query` (CoinCap REST).
    pub by_auth: BTreeMap<String, u64>,
    /// Answered by a rate limit (CoinGecko/Binance/CoinLore/CoinCap/Alchemy 429, Etherscan's 200
    /// `NOTOK`, Alpha Vantage's 200 `Information`).
    pub rate_limited: u64,
    /// Answered 5xx by the error rate.
    pub injected_errors: u64,
    /// Answered 5xx because the provider was set `down`.
    pub down_rejections: u64,
    /// Refused for a missing or unknown key.
    pub auth_failures: u64,
    /// Coin ids asked for by CoinGecko price requests that got through, summed (duplicates
    /// counted once).
    pub ids_requested: u64,
    /// Keyed by [`Provider::label`]; a provider appears once it was asked.
    #[serde(default)]
    pub by_provider: BTreeMap<String, ProviderStats>,
}

/// One provider's share of the counters of [`Stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderStats {
    pub requests: u64,
    pub rate_limited: u64,
    pub injected_errors: u64,
    pub down_rejections: u64,
    pub auth_failures: u64,
    /// WebSocket stream connections accepted so far.
    pub streams_opened: u64,
    /// WebSocket stream connections open now.
    pub streams_open: u64,
    /// Stream connections the server closed because `drop_streams` asked it to.
    pub streams_dropped: u64,
    /// Data frames sent on streams (trades, tickers, price objects), malformed ones included;
    /// pings and replies to request frames are not data.
    pub stream_frames_sent: u64,
    /// Of `stream_frames_sent`, those replaced by a malformed frame
    /// ([`crate::ProviderFaults::stream_malformed_rate`]): what a client should have rejected.
    pub stream_frames_malformed: u64,
}

/// Why a request was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    RateLimited,
    InjectedError,
    Down,
    Auth,
}

impl Stats {
    pub(crate) fn record_request(&mut self, provider: Provider, endpoint: &str, auth: &str) {
        self.requests_total += 1;
        *self.by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        *self.by_auth.entry(auth.to_owned()).or_default() += 1;
        self.provider(provider).requests += 1;
    }

    pub(crate) fn record_refusal(&mut self, provider: Provider, refusal: Refusal) {
        let own = self
            .by_provider
            .entry(provider.label().to_owned())
            .or_default();
        let (own, total) = match refusal {
            Refusal::RateLimited => (&mut own.rate_limited, &mut self.rate_limited),
            Refusal::InjectedError => (&mut own.injected_errors, &mut self.injected_errors),
            Refusal::Down => (&mut own.down_rejections, &mut self.down_rejections),
            Refusal::Auth => (&mut own.auth_failures, &mut self.auth_failures),
        };
        *own += 1;
        *total += 1;
    }

    /// A stream connection opened (`true`) or closed (`false`).
    pub(crate) fn record_stream(&mut self, provider: Provider, opened: bool) {
        let own = self.provider(provider);
        if opened {
            own.streams_opened += 1;
            own.streams_open += 1;
        } else {
            own.streams_open = own.streams_open.saturating_sub(1);
        }
    }

    /// Data frames sent on one connection at one moment, `malformed` of them malformed.
    pub(crate) fn record_frames(&mut self, provider: Provider, sent: u64, malformed: u64) {
        let own = self.provider(provider);
        own.stream_frames_sent += sent;
        own.stream_frames_malformed += malformed;
    }

    /// A stream connection closed by `drop_streams`.
    pub(crate) fn record_dropped(&mut self, provider: Provider) {
        self.provider(provider).streams_dropped += 1;
    }

    fn provider(&mut self, provider: Provider) -> &mut ProviderStats {
        self.by_provider
            .entry(provider.label().to_owned())
            .or_default()
    }
}

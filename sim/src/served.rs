//! The last price each coin was served at, as the exact text sent, so tests can check that
//! coinbeat's cache holds exactly what the upstream said. Served at `GET /sim/served`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per provider, the last served USD price of each coin or pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// By CoinGecko id: the `usd` text of `/simple/price`, or the `current_price` (USD) of
    /// `/coins/markets` and `/coins/{id}`, whichever was served last.
    pub coingecko: BTreeMap<String, ServedPrice>,
    /// By CoinGecko id: the `current_price` (USD) of `/coins/markets` only, so a market snapshot
    /// can be checked even while `/simple/price` keeps answering with newer prices.
    #[serde(default)]
    pub coingecko_markets: BTreeMap<String, ServedPrice>,
    /// By Binance symbol (`BTCUSDT`): the last `price`/`lastPrice` string, in USDT.
    #[serde(default)]
    pub binance: BTreeMap<String, ServedPrice>,
    /// By CoinLore symbol (`BTC`): the last `price_usd` string. Symbols collide (copycats and
    /// bridged tokens share them), so this holds the last coin served under each symbol; use
    /// `coinlore_by_nameid` to tell them apart.
    #[serde(default)]
    pub coinlore: BTreeMap<String, ServedPrice>,
    /// By CoinLore `nameid` (the CoinGecko id, `bitcoin`): the last `price_usd` string.
    #[serde(default)]
    pub coinlore_by_nameid: BTreeMap<String, ServedPrice>,
    /// By CoinLore symbol: the last [`Served::RECENT`] `price_usd` strings, oldest first. Several
    /// jobs read CoinLore's pages (a market job, each price tier), so a test checking what one
    /// of them stored looks for it among these rather than in the last one alone.
    #[serde(default)]
    pub coinlore_recent: BTreeMap<String, Vec<ServedPrice>>,
    /// By Binance symbol (`BTCUSDT`): the last trade sent on a `<symbol>@aggTrade` stream.
    #[serde(default)]
    pub binance_stream: BTreeMap<String, ServedTick>,
    /// By coin id (`bitcoin`): the last price sent on CoinCap's prices stream (`trade_id` 0).
    #[serde(default)]
    pub coincap_stream: BTreeMap<String, ServedTick>,
    /// By coin id (`bitcoin`, the catalogue's id even where CoinCap's differs): the last
    /// `priceUsd` string of CoinCap's REST `/v3/assets` or `/v3/assets/{id}`.
    #[serde(default)]
    pub coincap: BTreeMap<String, ServedPrice>,
    /// By symbol as asked, upper-cased (`BTC`): the last `value` string of Alchemy's
    /// `/tokens/by-symbol`. A symbol names the best-ranked coin holding it at that moment.
    #[serde(default)]
    pub alchemy: BTreeMap<String, ServedPrice>,
    /// By pair as `FROM/TO` upper-cased (`USD/EUR`): the last `5. Exchange Rate` string of Alpha
    /// Vantage's `CURRENCY_EXCHANGE_RATE`, in units of `TO` per `FROM` (not USD).
    #[serde(default)]
    pub alphavantage: BTreeMap<String, ServedPrice>,
}

/// One trade as a stream sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedTick {
    /// The price text exactly as sent (`p`), in USDT.
    pub usd: String,
    /// The event time (`E`; when it was sent, on a stream without one), unix milliseconds.
    pub event_time_ms: u64,
    /// The aggregate trade id (`a`); 0 on a stream without one.
    pub trade_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedPrice {
    /// The price text exactly as sent, e.g. `"0.0000220134"` (a JSON number's text for
    /// CoinGecko, a string's content for Binance, CoinLore, CoinCap and Alchemy; for Alpha
    /// Vantage the exchange rate, which is in USD only when `TO` is).
    pub usd: String,
    /// When it was sent, unix milliseconds.
    pub served_at_ms: u64,
}

impl Served {
    /// How many prices [`Served::coinlore_recent`] keeps per symbol.
    pub const RECENT: usize = 16;

    /// Appends prices sent at one moment to one provider's recent prices, keeping the last
    /// [`Served::RECENT`] of each.
    pub(crate) fn record_recent<'a>(
        map: &mut BTreeMap<String, Vec<ServedPrice>>,
        served_at_ms: u64,
        prices: impl IntoIterator<Item = (&'a str, String)>,
    ) {
        for (key, usd) in prices {
            let recent = map.entry(key.to_owned()).or_default();
            if recent.len() == Self::RECENT {
                recent.remove(0);
            }
            recent.push(ServedPrice { usd, served_at_ms });
        }
    }

    /// Records trades sent on a stream, by symbol.
    pub(crate) fn record_ticks(
        map: &mut BTreeMap<String, ServedTick>,
        ticks: impl IntoIterator<Item = (String, ServedTick)>,
    ) {
        map.extend(ticks);
    }

    /// Records prices sent at one moment into one provider's map.
    pub(crate) fn record<'a>(
        map: &mut BTreeMap<String, ServedPrice>,
        served_at_ms: u64,
        prices: impl IntoIterator<Item = (&'a str, String)>,
    ) {
        for (key, usd) in prices {
            map.insert(key.to_owned(), ServedPrice { usd, served_at_ms });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_prices_keep_the_last_sixteen_of_each_symbol_oldest_first() {
        let mut recent = BTreeMap::new();
        for i in 0..20u64 {
            Served::record_recent(&mut recent, i, [("BTC", i.to_string())]);
        }
        Served::record_recent(&mut recent, 99, [("ETH", "1".to_owned())]);
        let btc: Vec<&str> = recent["BTC"].iter().map(|p| p.usd.as_str()).collect();
        assert_eq!(btc.len(), Served::RECENT);
        assert_eq!(btc.first(), Some(&"4"));
        assert_eq!(btc.last(), Some(&"19"));
        assert_eq!(recent["ETH"].len(), 1);
    }
}

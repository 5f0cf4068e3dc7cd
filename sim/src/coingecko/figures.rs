//! One coin's market figures at one step, in USD, derived from its walk and its description; the
//! endpoints that show market data (`/coins/markets`, `/coins/{id}`) all read them from here, so
//! they agree with each other and with `/simple/price`.

use serde_json::value::RawValue;

use super::vs_currency::VsCurrency;
use crate::json::{self, Ordered, number};
use crate::market::{CoinInfo, Quote};
use crate::number::Precision;
use crate::time::iso8601;

/// The 24h high and low sit this far beyond the larger and smaller of now and 24h ago.
const RANGE_MARGIN: f64 = 0.004;

#[derive(Debug)]
pub(super) struct Figures {
    pub(super) id: String,
    pub(super) quote: Quote,
    pub(super) info: CoinInfo,
    /// 1-based market-cap rank among every coin at this step.
    pub(super) rank: u64,
    pub(super) btc_usd: f64,
}

impl Figures {
    pub(super) fn price(&self) -> f64 {
        self.quote.price_usd
    }

    pub(super) fn high_24h(&self) -> f64 {
        self.price().max(self.quote.open_24h_usd) * (1.0 + RANGE_MARGIN)
    }

    pub(super) fn low_24h(&self) -> f64 {
        self.price().min(self.quote.open_24h_usd) * (1.0 - RANGE_MARGIN)
    }

    pub(super) fn price_change_24h(&self) -> f64 {
        self.price() - self.quote.open_24h_usd
    }

    pub(super) fn market_cap_change_24h(&self) -> f64 {
        self.price_change_24h() * self.quote.circulating_supply
    }

    /// Over the max supply, or the total one for uncapped coins.
    pub(super) fn fully_diluted_valuation(&self) -> f64 {
        self.price() * self.info.max_supply.unwrap_or(self.info.total_supply)
    }

    pub(super) fn ath(&self) -> f64 {
        self.info.ath_usd.max(self.price())
    }

    pub(super) fn atl(&self) -> f64 {
        self.info.atl_usd.min(self.price())
    }

    /// Change over a window in percent. Only 24h comes from the walk; the others are scaled from
    /// it (1h: a 24th, 7d: 1.7 times, 14d: 2.3, 30d: 3.1, 200d and 1y: 5), plausible and stable.
    pub(super) fn change_pct(&self, window: &str) -> Option<f64> {
        let day = self.quote.change_24h_pct;
        let factor = match window {
            "1h" => 1.0 / 24.0,
            "24h" => 1.0,
            "7d" => 1.7,
            "14d" => 2.3,
            "30d" => 3.1,
            "60d" => 4.0,
            "200d" | "1y" => 5.0,
            _ => return None,
        };
        Some(day * factor)
    }

    pub(super) fn last_updated(&self) -> String {
        iso8601(self.quote.updated_at_unix_secs * 1000)
    }

    /// CoinGecko's `roi`: `null`, or the return on an offering price in USD.
    pub(super) fn roi(&self) -> Box<RawValue> {
        match self.info.ico_usd {
            None => RawValue::NULL.to_owned(),
            Some(ico) => {
                let times = self.price() / ico - 1.0;
                let fields: Vec<(&str, Box<RawValue>)> = vec![
                    ("times", number(Precision::Full.amount(times))),
                    ("currency", json::string("usd")),
                    ("percentage", number(Precision::Full.amount(times * 100.0))),
                ];
                json::value(&Ordered(fields))
            }
        }
    }

    /// A USD amount in `vs`.
    pub(super) fn convert(&self, vs: VsCurrency, usd: f64) -> f64 {
        vs.convert(usd, self.btc_usd)
    }

    /// A supply figure (never converted).
    pub(super) fn supply(x: f64) -> Box<RawValue> {
        number(Precision::Full.amount(x))
    }

    pub(super) fn max_supply(&self) -> Box<RawValue> {
        match self.info.max_supply {
            Some(max) => Self::supply(max),
            None => RawValue::NULL.to_owned(),
        }
    }
}

//! The quote currencies CoinGecko prices can be asked in (`vs_currencies`), converted from USD.

/// A fixed rate: the sim's fiat currencies do not move against the dollar.
const EUR_PER_USD: f64 = 0.92;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum VsCurrency {
    Usd,
    Eur,
    Btc,
}

impl VsCurrency {
    /// Codes are case-insensitive; `None` for a currency the sim does not know, which the
    /// endpoint quietly omits.
    pub(super) fn parse(code: &str) -> Option<Self> {
        match code.to_ascii_lowercase().as_str() {
            "usd" => Some(Self::Usd),
            "eur" => Some(Self::Eur),
            "btc" => Some(Self::Btc),
            _ => None,
        }
    }

    /// The code as it appears in response keys (`usd`, `usd_market_cap`, ...).
    pub(super) fn code(self) -> &'static str {
        match self {
            Self::Usd => "usd",
            Self::Eur => "eur",
            Self::Btc => "btc",
        }
    }

    /// A USD amount in this currency.
    pub(super) fn convert(self, usd: f64, btc_usd: f64) -> f64 {
        match self {
            Self::Usd => usd,
            Self::Eur => usd * EUR_PER_USD,
            Self::Btc => usd / btc_usd,
        }
    }
}

//! [`Source`]: where a live price came from, and [`Update`]: one price event from it, on its
//! way to the coalescer.

use chrono::{DateTime, Utc};
use coinbeat_shared::domain::Symbol;
use rust_decimal::Decimal;

/// A live price source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Binance spot combined streams: the primary.
    Binance,
    /// CoinCap's prices stream: streamed while Binance is silent or failing.
    CoinCap,
}

impl Source {
    /// The `source` a record written from this stream carries.
    pub fn name(self) -> &'static str {
        match self {
            Self::Binance => "binance-ws",
            Self::CoinCap => "coincap-ws",
        }
    }
}

/// One event of a stream, for one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub symbol: Symbol,
    pub source: Source,
    /// The price now, if the event says it.
    pub usd: Option<Decimal>,
    /// The rolling 24 h figures, if the event carries them.
    pub day: Option<DayFigures>,
    /// The upstream's time of the event (Binance's `E`; receipt for CoinCap, which sends none).
    pub event_time: DateTime<Utc>,
    /// When this process read it.
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DayFigures {
    pub change_24h_pct: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
}

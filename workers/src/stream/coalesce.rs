//! [`Coalescer`]: the events of one window, one record per symbol. The newest price by event
//! time wins within the window (the cache's script decides between windows and paths), and the
//! window's latest 24 h figures ride along; a record without them keeps the cached ones.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::PriceRecord,
    domain::{CoinId, Symbol},
};
use rust_decimal::Decimal;

use super::source::{DayFigures, Source, Update};

#[derive(Debug)]
struct Pending {
    source: Source,
    usd: Decimal,
    event_time: DateTime<Utc>,
    received_at: DateTime<Utc>,
    day: Option<DayFigures>,
}

/// The window being gathered.
#[derive(Debug, Default)]
pub struct Coalescer {
    pending: HashMap<Symbol, Pending>,
    /// 24 h figures that came before any price of their symbol in this window.
    early_days: HashMap<Symbol, DayFigures>,
}

impl Coalescer {
    pub fn add(&mut self, update: Update) {
        let Update {
            symbol,
            source,
            usd,
            day,
            event_time,
            received_at,
        } = update;
        let Some(usd) = usd else {
            if let Some(day) = day {
                match self.pending.get_mut(&symbol) {
                    Some(pending) => pending.day = Some(day),
                    None => {
                        self.early_days.insert(symbol, day);
                    }
                }
            }
            return;
        };
        let day = day.or_else(|| self.early_days.remove(&symbol));
        match self.pending.get_mut(&symbol) {
            Some(pending) if pending.event_time > event_time => {
                if day.is_some() {
                    pending.day = day;
                }
            }
            Some(pending) => {
                pending.source = source;
                pending.usd = usd;
                pending.event_time = event_time;
                pending.received_at = received_at;
                if day.is_some() {
                    pending.day = day;
                }
            }
            None => {
                self.pending.insert(
                    symbol,
                    Pending {
                        source,
                        usd,
                        event_time,
                        received_at,
                        day,
                    },
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The window's records (a record per symbol that had a price and names a coin), and a
    /// fresh window. `coin_id` names each symbol's coin.
    pub fn take(
        &mut self,
        coin_id: impl Fn(&Symbol) -> Option<CoinId>,
    ) -> Vec<(Source, PriceRecord)> {
        self.early_days.clear();
        self.pending
            .drain()
            .filter_map(|(symbol, p)| {
                let (change, volume) = p
                    .day
                    .map_or((None, None), |d| (d.change_24h_pct, d.volume_24h_usd));
                let record = PriceRecord {
                    coin_id: coin_id(&symbol)?,
                    symbol: symbol.to_string(),
                    usd: p.usd,
                    change_24h_pct: change,
                    market_cap_usd: None,
                    volume_24h_usd: volume,
                    upstream_updated_at: Some(p.event_time),
                    fetched_at: p.received_at,
                    source: p.source.name().to_owned(),
                };
                Some((p.source, record))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(usd: Option<&str>, event_ms: i64, day: Option<&str>) -> Update {
        let at = DateTime::from_timestamp_millis(event_ms).unwrap();
        Update {
            symbol: Symbol::parse("BTC").unwrap(),
            source: Source::Binance,
            usd: usd.map(|u| Decimal::from_str_exact(u).unwrap()),
            day: day.map(|c| DayFigures {
                change_24h_pct: Some(Decimal::from_str_exact(c).unwrap()),
                volume_24h_usd: None,
            }),
            event_time: at,
            received_at: at,
        }
    }

    #[test]
    fn one_record_per_symbol_the_newest_price_and_the_latest_day_figures() {
        let mut c = Coalescer::default();
        c.add(update(None, 5, Some("1.5")));
        c.add(update(Some("100.1"), 10, None));
        c.add(update(Some("100.3"), 30, None));
        c.add(update(Some("100.2"), 20, None)); // late in the window: older
        c.add(update(None, 25, Some("2.5")));
        let records = c.take(|_| CoinId::parse("bitcoin").ok());
        assert_eq!(records.len(), 1);
        let (source, r) = &records[0];
        assert_eq!(*source, Source::Binance);
        assert_eq!(r.usd.to_string(), "100.3");
        assert_eq!(r.upstream_updated_at.unwrap().timestamp_millis(), 30);
        assert_eq!(r.change_24h_pct.unwrap().to_string(), "2.5");
        assert_eq!(
            (r.coin_id.as_str(), r.source.as_str()),
            ("bitcoin", "binance-ws")
        );
        assert!(r.market_cap_usd.is_none());
        assert!(c.is_empty());
        c.add(update(None, 40, Some("3")));
        assert!(
            c.take(|_| CoinId::parse("bitcoin").ok()).is_empty(),
            "figures alone are no price"
        );
        c.add(update(Some("100.4"), 50, None));
        assert!(c.take(|_| None).is_empty(), "a symbol that names no coin");
    }
}

//! The `stream-worker`: which symbols it streams, how it splits them over connections and
//! replicas, how it coalesces writes, and when it fails over from Binance to CoinCap.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Symbol;

/// Binance's documented cap on streams per connection, at two streams per symbol.
const MAX_SYMBOLS_PER_SHARD: usize = 512;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StreamsSettings {
    /// Off: the stream-worker streams nothing (it stays up and ready), and prices come from the
    /// REST beat alone. `COINBEAT_STREAMS__ENABLED=false`.
    pub enabled: bool,
    /// Symbols streamed; empty (the default) streams the tracked set, following its changes.
    pub symbols: Vec<Symbol>,
    /// Symbols per shard: one connection per source, one lease, one replica at a time.
    /// Default 100 (200 Binance streams, a fifth of its 1024 per connection).
    pub shard_size: usize,
    /// Ticks of one symbol within this window become one write (the last price, the last 24 h
    /// figures). Default 200 ms: Redis sees at most five writes a second per symbol, however
    /// fast the exchange trades, and a client sees a trade at most this late.
    pub coalesce_ms: u64,
    /// Binance connected but without a data frame this long (or not connected for this long)
    /// → the shard streams from CoinCap until Binance speaks again. Default 5 s: a liquid pair
    /// trades many times a second and its ticker comes every second.
    pub silence_secs: u64,
    /// A lease outlives its holder's last renewal by this; renewed every third of it. Default
    /// 3 s: a standby takes a dead holder's shard within 3 s plus its 250 ms poll.
    pub lease_ttl_ms: u64,
    /// Backoff between failed connection attempts: doubling from the first to the last, with
    /// jitter. Defaults 1 s and 30 s.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// A connection is replaced after this long, before the exchange ends it (Binance: 24 h).
    /// Default 23 h 50 m.
    pub max_connection_secs: u64,
    /// How often the tracked set is read again (a changed set re-shards). Default 30 s.
    pub symbols_refresh_secs: u64,
    /// A history point is added by a tick only when the symbol's newest point is at least this
    /// old, so a stream does not push out days of history in minutes. Default 300 s (the
    /// price beat's cadence).
    pub history_every_secs: u64,
}

impl Default for StreamsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            symbols: Vec::new(),
            shard_size: 100,
            coalesce_ms: 200,
            silence_secs: 5,
            lease_ttl_ms: 3_000,
            reconnect_min_ms: 1_000,
            reconnect_max_ms: 30_000,
            max_connection_secs: 23 * 3_600 + 50 * 60,
            symbols_refresh_secs: 30,
            history_every_secs: 300,
        }
    }
}

impl StreamsSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_SYMBOLS_PER_SHARD).contains(&self.shard_size) {
            return Err(format!(
                "streams.shard_size must be 1 to {MAX_SYMBOLS_PER_SHARD} (Binance allows 1024 \
                 streams per connection, two per symbol), not {}",
                self.shard_size
            ));
        }
        if self.lease_ttl_ms < 300 {
            return Err("streams.lease_ttl_ms must be at least 300".into());
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return Err(
                "streams.reconnect_min_ms must be above 0 and at most streams.reconnect_max_ms"
                    .into(),
            );
        }
        if self.silence_secs == 0 || self.max_connection_secs == 0 || self.coalesce_ms == 0 {
            return Err(
                "streams.silence_secs, streams.max_connection_secs and streams.coalesce_ms \
                 must be above 0"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn coalesce(&self) -> Duration {
        Duration::from_millis(self.coalesce_ms)
    }

    pub fn silence(&self) -> Duration {
        Duration::from_secs(self.silence_secs)
    }

    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms)
    }

    pub fn max_connection(&self) -> Duration {
        Duration::from_secs(self.max_connection_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_a_shard_past_binances_cap_is_refused() {
        assert_eq!(StreamsSettings::default().validate(), Ok(()));
        let too_big = StreamsSettings {
            shard_size: 600,
            ..StreamsSettings::default()
        };
        assert!(too_big.validate().unwrap_err().contains("1024"));
        let backwards = StreamsSettings {
            reconnect_min_ms: 40_000,
            ..StreamsSettings::default()
        };
        assert!(backwards.validate().is_err());
    }
}

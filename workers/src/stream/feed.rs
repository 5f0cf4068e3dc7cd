//! [`run_feed`]: one shard's connection to one source, kept open until stopped: connect, read
//! events into the coalescer's channel, and on a loss, silence or old age connect again.
//!
//! Reconnecting: at once after a connection that delivered data for a second or more (a
//! server-side disconnect, the exchange's 24 h lifetime: no gap past the time to connect);
//! otherwise after a backoff doubling from `reconnect_min_ms` to `reconnect_max_ms` with
//! jitter, which keeps a replica far inside Binance's 300 connection attempts per 5 minutes.
//! A connection is replaced before `max_connection_secs`, and dropped when silent for
//! `silence_secs` (an open but dead socket).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use coinbeat_shared::{domain::Symbol, settings::StreamsSettings, supervise};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::metrics::StreamMetrics;
use super::source::{DayFigures, Source, Update};
use crate::binance::stream::{self as binance, StreamEvent};
use crate::coincap::stream as coincap;
use crate::websocket::{self, Connection};

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a feed's owner reads of it.
#[derive(Debug, Default, Clone)]
pub struct FeedState {
    pub connected: bool,
    /// When the last data frame arrived.
    pub last_data: Option<Instant>,
    /// The newest event's upstream time.
    pub last_event_at: Option<DateTime<Utc>>,
    pub events: u64,
    pub reconnects: u64,
    pub malformed: u64,
}

impl FeedState {
    /// A data frame within `silence`.
    pub fn fresh(&self, silence: Duration) -> bool {
        self.last_data.is_some_and(|t| t.elapsed() < silence)
    }

    /// No data frame for `silence` (counting from `started` when there has been none).
    pub fn failing(&self, started: Instant, silence: Duration) -> bool {
        !self.fresh(silence) && self.last_data.unwrap_or(started).elapsed() >= silence
    }

    /// Just opened: no data and no reconnect yet.
    pub fn opening(&self) -> bool {
        self.last_data.is_none() && self.reconnects == 0
    }

    /// Adds `other`'s counters to these (the newest event of the two).
    pub fn absorb(&mut self, other: &FeedState) {
        self.events += other.events;
        self.reconnects += other.reconnects;
        self.malformed += other.malformed;
        self.last_event_at = self.last_event_at.max(other.last_event_at);
    }
}

pub type SharedFeedState = Arc<Mutex<FeedState>>;

/// Where one feed connects and how it names the shard's symbols.
#[derive(Debug, Clone)]
pub struct FeedPlan {
    pub source: Source,
    pub shard: u32,
    pub url: String,
    /// The upstream's name of each symbol (a Binance pair, a CoinCap asset id) → the symbol.
    pub symbols: HashMap<String, Symbol>,
}

impl FeedPlan {
    /// Binance's combined streams of `symbols`; `None` when none of them has a USDT pair.
    pub fn binance(shard: u32, ws_url: &str, symbols: &[Symbol]) -> Option<Self> {
        let url = binance::stream_url(ws_url, symbols)?;
        let symbols = symbols
            .iter()
            .filter_map(|s| crate::binance::pair_for(s).map(|pair| (pair, s.clone())))
            .collect();
        Some(Self {
            source: Source::Binance,
            shard,
            url,
            symbols,
        })
    }

    /// CoinCap's prices of `assets` (CoinCap id, symbol).
    pub fn coincap(
        shard: u32,
        ws_url: &str,
        api_key: Option<&str>,
        assets: Vec<(String, Symbol)>,
    ) -> Option<Self> {
        let ids: Vec<String> = assets.iter().map(|(id, _)| id.clone()).collect();
        let url = coincap::stream_url(ws_url, &ids, api_key)?;
        Some(Self {
            source: Source::CoinCap,
            shard,
            url,
            symbols: assets.into_iter().collect(),
        })
    }
}

/// Runs the feed of `plan` until `stop`, sending its events to `updates`.
pub async fn run_feed(
    plan: FeedPlan,
    settings: StreamsSettings,
    updates: mpsc::Sender<Update>,
    state: SharedFeedState,
    metrics: StreamMetrics,
    stop: CancellationToken,
) {
    let source = plan.source.name();
    let shard = plan.shard.to_string();
    let mut backoff = Backoff::new(&settings);
    let mut attempts = 0u64;
    loop {
        if attempts > 0 {
            metrics.reconnects.inc(&[source]);
            lock(&state).reconnects += 1;
        }
        attempts += 1;
        let connection = tokio::select! {
            () = stop.cancelled() => return,
            c = tokio::time::timeout(CONNECT_TIMEOUT, websocket::connect(&plan.url)) => c,
        };
        let wait = match connection {
            Ok(Ok(mut connection)) => {
                lock(&state).connected = true;
                metrics.connected.set(&[source, &shard], 1.0);
                let opened = Instant::now();
                let read = read_until_lost(
                    &plan,
                    &settings,
                    &mut connection,
                    &updates,
                    &state,
                    &metrics,
                    &stop,
                )
                .await;
                lock(&state).connected = false;
                metrics.connected.set(&[source, &shard], 0.0);
                let _ = tokio::time::timeout(Duration::from_secs(1), connection.close(None)).await;
                match read {
                    Lost::Stopped => return,
                    Lost::Aged => Duration::ZERO,
                    Lost::Closed { had_data }
                        if had_data && opened.elapsed() >= Duration::from_secs(1) =>
                    {
                        backoff.reset();
                        Duration::ZERO
                    }
                    Lost::Closed { .. } | Lost::Silent => backoff.next(),
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(source, shard = plan.shard, error = %e, "stream connection refused");
                backoff.next()
            }
            Err(_) => {
                tracing::warn!(source, shard = plan.shard, "stream connection timed out");
                backoff.next()
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Why a connection ended.
enum Lost {
    Stopped,
    /// Replaced before the exchange's lifetime ends it.
    Aged,
    /// No data frame for `silence_secs`.
    Silent,
    /// Closed by the server or by an error.
    Closed {
        had_data: bool,
    },
}

async fn read_until_lost(
    plan: &FeedPlan,
    settings: &StreamsSettings,
    connection: &mut Connection,
    updates: &mpsc::Sender<Update>,
    state: &SharedFeedState,
    metrics: &StreamMetrics,
    stop: &CancellationToken,
) -> Lost {
    let source = plan.source.name();
    let end_of_life = tokio::time::sleep(settings.max_connection());
    tokio::pin!(end_of_life);
    let mut had_data = false;
    loop {
        let frame = tokio::select! {
            () = stop.cancelled() => return Lost::Stopped,
            () = &mut end_of_life => return Lost::Aged,
            frame = tokio::time::timeout(settings.silence(), read_one(plan, connection)) => frame,
        };
        let events = match frame {
            Err(_) => {
                tracing::warn!(
                    source,
                    shard = plan.shard,
                    "stream silent; connecting again"
                );
                return Lost::Silent;
            }
            Ok(None) => return Lost::Closed { had_data },
            Ok(Some(Err(bad))) => {
                metrics.malformed.inc(&[source]);
                lock(state).malformed += 1;
                tracing::debug!(source, shard = plan.shard, error = %bad, "skipped a frame");
                continue;
            }
            Ok(Some(Ok(Read::Shutdown))) => return Lost::Closed { had_data: true },
            Ok(Some(Ok(Read::Updates(events)))) if events.is_empty() => continue,
            Ok(Some(Ok(Read::Updates(events)))) => events,
        };
        had_data = true;
        let newest = events.iter().map(|u| u.event_time).max();
        let priced = events.iter().filter(|u| u.usd.is_some()).count() as u64;
        {
            let mut s = lock(state);
            s.last_data = Some(Instant::now());
            s.events += priced;
            if newest > s.last_event_at {
                s.last_event_at = newest;
            }
        }
        metrics.events.inc_by(&[source], priced);
        for update in events {
            if updates.send(update).await.is_err() {
                return Lost::Stopped;
            }
        }
    }
}

enum Read {
    Updates(Vec<Update>),
    /// The exchange announced a maintenance disconnect.
    Shutdown,
}

/// The next data frame as updates; `None` once the connection is closed.
async fn read_one(
    plan: &FeedPlan,
    connection: &mut Connection,
) -> Option<Result<Read, websocket::MalformedFrame>> {
    let received_at = Utc::now();
    let symbol_of = |name: &str| plan.symbols.get(name).cloned();
    Some(match plan.source {
        Source::Binance => binance::next_event(connection).await?.map(|event| {
            let received_at = Utc::now();
            let update = |pair: &str, usd, day, event_ms: i64| {
                Some(Update {
                    symbol: symbol_of(pair)?,
                    source: Source::Binance,
                    usd,
                    day,
                    event_time: DateTime::from_timestamp_millis(event_ms)?,
                    received_at,
                })
            };
            match event {
                StreamEvent::Trade(t) => Read::Updates(
                    update(&t.pair, Some(t.price), None, t.event_time_ms)
                        .into_iter()
                        .collect(),
                ),
                StreamEvent::Day(d) => Read::Updates(
                    update(
                        &d.pair,
                        None,
                        Some(DayFigures {
                            change_24h_pct: d.change_24h_pct,
                            volume_24h_usd: d.quote_volume,
                        }),
                        d.event_time_ms,
                    )
                    .into_iter()
                    .collect(),
                ),
                StreamEvent::Shutdown => Read::Shutdown,
                StreamEvent::Other => Read::Updates(Vec::new()),
            }
        }),
        Source::CoinCap => coincap::next_prices(connection).await?.map(|prices| {
            let received_at = Utc::now().max(received_at);
            Read::Updates(
                prices
                    .into_iter()
                    .filter_map(|(id, usd)| {
                        Some(Update {
                            symbol: symbol_of(&id)?,
                            source: Source::CoinCap,
                            usd: Some(usd),
                            day: None,
                            // CoinCap stamps nothing: the price is as of its arrival.
                            event_time: received_at,
                            received_at,
                        })
                    })
                    .collect(),
            )
        }),
    })
}

/// Doubling waits with jitter (each wait between half and all of the current step).
/// The reconnect wait: [`supervise::Backoff`]'s, each cut to a random 50-100 % of itself so
/// replicas cut off together do not reconnect together.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    inner: supervise::Backoff,
}

impl Backoff {
    fn new(settings: &StreamsSettings) -> Self {
        let min = Duration::from_millis(settings.reconnect_min_ms);
        let max = Duration::from_millis(settings.reconnect_max_ms);
        Self {
            min,
            inner: supervise::Backoff::new(min, max),
        }
    }

    fn next(&mut self) -> Duration {
        let jitter = rand::rng().random_range(0.5..=1.0);
        self.inner.next_wait().mul_f64(jitter).max(self.min / 2)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

pub fn lock(state: &SharedFeedState) -> std::sync::MutexGuard<'_, FeedState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_starts_over_when_reset() {
        let mut b = Backoff::new(&StreamsSettings::default());
        let waits: Vec<Duration> = (0..8).map(|_| b.next()).collect();
        assert!((500..=1_000).contains(&waits[0].as_millis()), "{waits:?}");
        assert!((1_000..=2_000).contains(&waits[1].as_millis()), "{waits:?}");
        assert!(
            waits.iter().all(|w| *w <= Duration::from_secs(30)),
            "{waits:?}"
        );
        assert!(waits[7] >= Duration::from_secs(15), "{waits:?}");
        b.reset();
        assert!(b.next() <= Duration::from_secs(1));
    }
}

//! One shard of the streamed symbols: wait for its lease, then stream it while the lease holds.
//!
//! The holder streams Binance; when Binance has delivered nothing for `silence_secs` (not
//! connected, or connected but silent) it also streams CoinCap for the shard, and stops CoinCap
//! once Binance delivers again. Its state goes to Redis every second for `/v1/health` and the
//! CLI. The lease is renewed every third of its time to live; a holder that cannot renew stops
//! streaming once its lease may have run out, so two replicas overlap on a shard at most by a
//! renewal's round trip.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    domain::{CoinId, Symbol},
    keys::Keys,
    lease::Lease,
    settings::Settings,
    stream_state::{Phase, ShardState},
};
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::feed::{FeedPlan, FeedState, SharedFeedState, lock, run_feed};
use super::metrics::StreamMetrics;
use super::source::Update;

/// How often a standby tries for a free lease, and a holder looks at its feeds.
const POLL: Duration = Duration::from_millis(250);

/// Everything one shard's task needs.
#[derive(Clone)]
pub struct ShardTask {
    pub shard: u32,
    pub symbols: Vec<Symbol>,
    /// The coin each of `symbols` names.
    pub coins: BTreeMap<Symbol, CoinId>,
    pub holder: String,
    pub settings: Settings,
    pub conn: ConnectionManager,
    pub keys: Keys,
    pub updates: mpsc::Sender<Update>,
    pub metrics: StreamMetrics,
}

impl ShardTask {
    /// Takes the shard whenever its lease is free and streams it while held, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let lease = Lease::new(
            self.conn.clone(),
            self.keys.stream_lease(self.shard),
            self.holder.clone(),
            self.settings.streams.lease_ttl(),
        );
        loop {
            let asked = Instant::now();
            match lease.take_or_renew().await {
                Ok(true) => {
                    tracing::info!(
                        shard = self.shard,
                        symbols = self.symbols.len(),
                        "took the shard"
                    );
                    self.metrics.shards_held.add(&[], 1.0);
                    let released = self.hold(&lease, asked, &stop).await;
                    self.metrics.shards_held.add(&[], -1.0);
                    if released {
                        return;
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(shard = self.shard, error = %e, "lease unreachable"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Streams while the lease holds: `true` once stopped (the lease released), `false` when
    /// the lease was lost.
    async fn hold(&self, lease: &Lease, taken: Instant, stop: &CancellationToken) -> bool {
        let streams = &self.settings.streams;
        let ttl = streams.lease_ttl();
        let mut held_until = taken + ttl;
        let mut renewed = Instant::now();
        let feeds = CancellationToken::new();
        let binance_state = SharedFeedState::default();
        let mut tasks = Vec::new();
        let started = Instant::now();
        if let Some(plan) = FeedPlan::binance(
            self.shard,
            self.settings.providers.binance.effective_ws_url(),
            &self.symbols,
        ) {
            tasks.push(self.spawn_feed(plan, &binance_state, feeds.child_token()));
        }
        let mut coincap: Option<(CancellationToken, SharedFeedState)> = None;
        let mut phase = Phase::Connecting;
        let mut since = Utc::now();
        // Counters of CoinCap feeds already stopped.
        let mut retired = FeedState::default();
        let mut stored = Instant::now() - Duration::from_secs(60);
        let released = loop {
            tokio::select! {
                () = stop.cancelled() => break true,
                () = tokio::time::sleep(POLL) => {}
            }
            // The lease.
            if renewed.elapsed() >= lease.renew_every() {
                let asked = Instant::now();
                match lease.take_or_renew().await {
                    Ok(true) => {
                        held_until = asked + ttl;
                        renewed = Instant::now();
                    }
                    Ok(false) => {
                        tracing::warn!(shard = self.shard, "lost the shard's lease; stopping");
                        break false;
                    }
                    Err(e) => {
                        tracing::warn!(shard = self.shard, error = %e, "lease renewal failed")
                    }
                }
            }
            if Instant::now() >= held_until {
                tracing::warn!(
                    shard = self.shard,
                    "lease may have run out unrenewed; stopping"
                );
                break false;
            }

            // The sources: CoinCap while Binance fails, and not once it delivers again.
            let b = lock(&binance_state).clone();
            let binance_failing = b.failing(started, streams.silence());
            match (&coincap, binance_failing) {
                (None, true) => {
                    if let Some(plan) = self.coincap_plan() {
                        tracing::warn!(shard = self.shard, "Binance silent; streaming CoinCap");
                        let (token, state) = (feeds.child_token(), SharedFeedState::default());
                        tasks.push(self.spawn_feed(plan, &state, token.clone()));
                        coincap = Some((token, state));
                    }
                }
                (Some((token, state)), false) => {
                    tracing::info!(shard = self.shard, "Binance streams again; CoinCap stopped");
                    token.cancel();
                    retired.absorb(&lock(state));
                    coincap = None;
                }
                _ => {}
            }
            let c = coincap.as_ref().map(|(_, s)| lock(s).clone());
            let now_phase = judge(&b, c.as_ref(), started, streams.silence());
            if now_phase != phase {
                tracing::info!(shard = self.shard, from = ?phase, to = ?now_phase, "shard phase");
                phase = now_phase;
                since = Utc::now();
            }
            if stored.elapsed() >= Duration::from_secs(1) {
                stored = Instant::now();
                let mut total = retired.clone();
                total.absorb(&b);
                if let Some(c) = &c {
                    total.absorb(c);
                }
                self.store_state(phase, since, &total).await;
            }
        };
        feeds.cancel();
        if released {
            // Free the shard at once, so a standby takes it within its poll.
            if let Err(e) = lease.release().await {
                tracing::warn!(shard = self.shard, error = %e, "could not release the lease");
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        released
    }

    fn spawn_feed(
        &self,
        plan: FeedPlan,
        state: &SharedFeedState,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run_feed(
            plan,
            self.settings.streams.clone(),
            self.updates.clone(),
            state.clone(),
            self.metrics.clone(),
            stop,
        ))
    }

    /// Writes the shard's state for `/v1/health` and `coinbeat streams`.
    async fn store_state(&self, phase: Phase, since: DateTime<Utc>, total: &FeedState) {
        let source = match phase {
            Phase::Streaming | Phase::Connecting | Phase::Reconnecting => "binance-ws",
            Phase::FailedOver => "coincap-ws",
            Phase::Down | Phase::Unowned => "none",
        };
        let state = ShardState {
            shard: self.shard,
            phase,
            source: source.into(),
            holder: self.holder.clone(),
            symbols: self.symbols.len(),
            since,
            last_event_at: total.last_event_at,
            ticks: total.events,
            reconnects: total.reconnects,
            malformed: total.malformed,
            updated_at: Utc::now(),
        };
        if let Err(e) = state.store(&self.conn, &self.keys).await {
            tracing::warn!(shard = self.shard, error = %e, "could not store the shard's state");
        }
    }

    /// CoinCap's feed for the shard's symbols that have a coin id.
    fn coincap_plan(&self) -> Option<FeedPlan> {
        let coincap = &self.settings.providers.coincap;
        let assets = self
            .symbols
            .iter()
            .filter_map(|s| {
                let id = self.coins.get(s)?;
                Some((
                    coincap.asset_id(s.as_str(), id.as_str()).to_owned(),
                    s.clone(),
                ))
            })
            .collect();
        FeedPlan::coincap(
            self.shard,
            coincap.effective_ws_url(),
            coincap
                .api_key
                .as_ref()
                .map(|k| k.expose())
                .filter(|k| !k.is_empty()),
            assets,
        )
    }
}

/// The shard's phase from its feeds: Binance connected and delivering → streaming; Binance
/// not connected or quiet, not yet for `silence` → connecting (nothing yet) or reconnecting;
/// quiet past it → failed over while CoinCap delivers or is still opening, down when CoinCap is
/// quiet too (or there is none).
fn judge(
    binance: &FeedState,
    coincap: Option<&FeedState>,
    started: Instant,
    silence: Duration,
) -> Phase {
    if binance.connected && binance.fresh(silence) {
        Phase::Streaming
    } else if !binance.failing(started, silence) {
        if binance.last_data.is_none() && binance.reconnects == 0 {
            Phase::Connecting
        } else {
            Phase::Reconnecting
        }
    } else if coincap.is_some_and(|c| c.fresh(silence) || c.opening()) {
        Phase::FailedOver
    } else {
        Phase::Down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SILENCE: Duration = Duration::from_secs(5);

    fn feed(connected: bool, data_ago: Option<Duration>, reconnects: u64) -> FeedState {
        FeedState {
            connected,
            last_data: data_ago.map(|ago| Instant::now() - ago),
            reconnects,
            ..FeedState::default()
        }
    }

    #[test]
    fn the_phase_follows_binance_first_then_coincap() {
        let just_now = Instant::now();
        let long_ago = Instant::now() - Duration::from_secs(60);
        let secs = Duration::from_secs;
        // Binance delivering, whatever CoinCap does.
        let live = feed(true, Some(secs(1)), 3);
        assert_eq!(judge(&live, None, long_ago, SILENCE), Phase::Streaming);
        // Binance quiet, not yet for the silence setting.
        let new = feed(false, None, 0);
        assert_eq!(judge(&new, None, just_now, SILENCE), Phase::Connecting);
        let lost = feed(false, Some(secs(2)), 1);
        assert_eq!(judge(&lost, None, long_ago, SILENCE), Phase::Reconnecting);
        // Binance quiet past it: CoinCap opening or delivering → failed over; quiet too → down.
        let silent = feed(true, Some(secs(6)), 1);
        let opening = feed(false, None, 0);
        let coincap_live = feed(true, Some(secs(1)), 0);
        let coincap_quiet = feed(true, Some(secs(9)), 2);
        assert_eq!(
            judge(&silent, Some(&opening), long_ago, SILENCE),
            Phase::FailedOver
        );
        assert_eq!(
            judge(&silent, Some(&coincap_live), long_ago, SILENCE),
            Phase::FailedOver
        );
        assert_eq!(
            judge(&silent, Some(&coincap_quiet), long_ago, SILENCE),
            Phase::Down
        );
        assert_eq!(judge(&silent, None, long_ago, SILENCE), Phase::Down);
        // Never connected since the shard was taken long ago: failing too.
        assert_eq!(
            judge(&new, Some(&opening), long_ago, SILENCE),
            Phase::FailedOver
        );
    }
}

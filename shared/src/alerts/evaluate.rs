//! Evaluating alerts on price updates. Every price write, whichever path makes it (a price
//! job, a tier refresh, an exchange stream), goes through `PriceCache`'s one script, which logs
//! each record it wrote for a coin with alerts, with the price it replaced ([`super::MoveLog`]).
//! Each such move is one step of the coin's price as the cache holds it, logged once, so a
//! crossing is found once. [`AlertWatch::on_moves`] finds the alerts each move crosses and
//! enqueues one delivery per alert and move on the `alerts` queue, keyed by the trigger
//! ([`AlertJob::trigger`]): the same trigger enqueued twice (a move evaluated again after its
//! evaluator died) is one task.
//!
//! Candidates come from the ZSETs by score (a double, so the bounds are widened a little);
//! each is confirmed against its exact decimal: `above X` fires when previous < X ≤ new,
//! `below X` when new ≤ X < previous, `move` when the new price has moved by the percentage
//! against the window's oldest history point and the previous price had not.
//!
//! An alert with a cooldown (`StoredAlert::cooldown_secs`) then has its crossings held back
//! when they are on a price fetched within the cooldown of one it fired on, before or after
//! (one script, `lua/hold_back.lua`, keeping the alert's recent firings, so neither two
//! evaluators nor moves evaluated out of order fire it twice within it). Price time, not the
//! evaluator's clock: a backlog of moves evaluated at once fires as the prices moved.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::LazyLock,
};

use chrono::{DateTime, Utc};
use redis::Script;
use rust_decimal::Decimal;

use super::{AlertId, AlertStore, Condition, Direction, StoredAlert, store::score};
use crate::{
    cache::HistoryPoint,
    domain::CoinId,
    jobs::AlertJob,
    queue::{Producer, QueueError},
};

static HOLD_BACK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/hold_back.lua")));

/// One written price record of a coin with alerts, with the price it replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceMove {
    pub coin: CoinId,
    pub symbol: String,
    pub previous: Decimal,
    pub usd: Decimal,
    pub as_of: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
    pub source: String,
}

/// What one evaluation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired {
    /// Deliveries enqueued.
    pub enqueued: usize,
    /// Triggers already on the queue (their key held), not enqueued again.
    pub duplicates: usize,
    /// Crossings held back: their alert fired within its cooldown (or was deleted since).
    pub held_back: usize,
}

/// One crossing of an alert, and the alert's cooldown.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    pub job: AlertJob,
    pub cooldown_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("enqueueing alert deliveries: {0}")]
    Queue(#[from] QueueError),
}

/// Finds the alerts price moves cross and enqueues their deliveries.
#[derive(Debug, Clone)]
pub struct AlertWatch {
    store: AlertStore,
    producer: Producer,
}

impl AlertWatch {
    pub fn new(store: AlertStore, producer: Producer) -> Self {
        Self { store, producer }
    }

    /// Evaluates `moves` and enqueues a delivery for each crossing.
    pub async fn on_moves(&self, moves: &[PriceMove]) -> Result<Fired, EvaluateError> {
        self.fire(self.crossings(moves).await?).await
    }

    /// Enqueues a delivery for each of `crossings` its alert's cooldown lets through.
    pub async fn fire(&self, crossings: Vec<Crossing>) -> Result<Fired, EvaluateError> {
        let count = crossings.len();
        let jobs = self.hold_back(crossings).await?;
        let mut fired = Fired {
            held_back: count - jobs.len(),
            ..Fired::default()
        };
        if jobs.is_empty() {
            return Ok(fired);
        }
        let keyed: Vec<(AlertJob, String)> = jobs
            .into_iter()
            .map(|job| {
                let key = job.trigger();
                (job, key)
            })
            .collect();
        for result in self.producer.enqueue_keyed(&keyed).await? {
            match result {
                Ok(_) => fired.enqueued += 1,
                Err(_) => fired.duplicates += 1,
            }
        }
        Ok(fired)
    }

    /// The crossings of alerts with a cooldown that fired within it (or were deleted since),
    /// taken out; the others' deliveries, in order. Each crossing let through is recorded as a
    /// firing of its alert.
    async fn hold_back(&self, crossings: Vec<Crossing>) -> Result<Vec<AlertJob>, EvaluateError> {
        let cooling: Vec<&Crossing> = crossings.iter().filter(|c| c.cooldown_secs > 0).collect();
        let flags: Vec<i64> = if cooling.is_empty() {
            Vec::new()
        } else {
            let mut invocation = HOLD_BACK.prepare_invoke();
            for crossing in &cooling {
                let id = &crossing.job.alert_id;
                invocation
                    .key(self.store.keys().alert_firings(id))
                    .key(self.store.keys().alert(id))
                    .arg(crossing.job.fetched_at.timestamp_millis())
                    .arg(crossing.cooldown_secs.saturating_mul(1_000))
                    .arg(crossing.job.trigger());
            }
            invocation.invoke_async(&mut self.store.conn()).await?
        };
        let mut flags = flags.into_iter();
        Ok(crossings
            .into_iter()
            .filter(|c| c.cooldown_secs == 0 || flags.next() == Some(1))
            .map(|c| c.job)
            .collect())
    }

    /// The crossings `moves` make, without enqueueing their deliveries or looking at the
    /// alerts' cooldowns.
    pub async fn crossings(&self, moves: &[PriceMove]) -> Result<Vec<Crossing>, EvaluateError> {
        let moves: Vec<&PriceMove> = moves.iter().filter(|m| m.usd != m.previous).collect();
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.store.keys();
        let mut conn = self.store.conn();

        // 1. Candidates: thresholds between the two prices, and every move alert of the coin.
        let mut pipe = redis::pipe();
        for m in &moves {
            let (low, high) = widen(&m.previous, &m.usd);
            let index = if m.usd > m.previous {
                keys.alerts_above(&m.coin)
            } else {
                keys.alerts_below(&m.coin)
            };
            pipe.zrangebyscore(index, low, high);
            pipe.smembers(keys.alerts_moves(&m.coin));
        }
        let found: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        let mut wanted: BTreeSet<AlertId> = BTreeSet::new();
        for ids in &found {
            wanted.extend(ids.iter().filter_map(|id| AlertId::parse(id).ok()));
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<AlertId> = wanted.into_iter().collect();
        let alerts: BTreeMap<AlertId, StoredAlert> = self
            .store
            .get_many(&wanted)
            .await?
            .into_iter()
            .flatten()
            .map(|alert| (alert.id, alert))
            .collect();

        // 2. The reference price of each (move, window) a move alert needs.
        let mut windows: BTreeSet<(usize, u64)> = BTreeSet::new();
        for (i, ids) in found.iter().skip(1).step_by(2).enumerate() {
            for id in ids {
                if let Some(Condition::Move { window_secs, .. }) = AlertId::parse(id)
                    .ok()
                    .and_then(|id| alerts.get(&id))
                    .map(|a| &a.condition)
                {
                    windows.insert((i, *window_secs));
                }
            }
        }
        let windows: Vec<(usize, u64)> = windows.into_iter().collect();
        let mut references: BTreeMap<(usize, u64), Decimal> = BTreeMap::new();
        if !windows.is_empty() {
            let mut pipe = redis::pipe();
            for (i, window) in &windows {
                let m = moves[*i];
                let from = m.fetched_at.timestamp_millis() - (*window as i64) * 1_000;
                // The oldest point in the window, before the one this write added.
                pipe.cmd("ZRANGE")
                    .arg(keys.price_history(&m.coin))
                    .arg(from)
                    .arg(format!("({}", m.fetched_at.timestamp_millis()))
                    .arg("BYSCORE")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(1);
            }
            let points: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
            for (slot, point) in windows.iter().zip(points) {
                if let Some(point) = point
                    .first()
                    .and_then(|p| serde_json::from_str::<HistoryPoint>(p).ok())
                {
                    references.insert(*slot, point.usd);
                }
            }
        }

        // 3. Confirm each candidate exactly.
        let mut jobs = Vec::new();
        for (i, m) in moves.iter().enumerate() {
            for (list, ids) in [&found[2 * i], &found[2 * i + 1]].into_iter().enumerate() {
                for id in ids {
                    let Some(alert) = AlertId::parse(id).ok().and_then(|id| alerts.get(&id)) else {
                        continue;
                    };
                    // An index entry of another coin's alert cannot happen; be sure anyway.
                    if alert.coin != m.coin {
                        continue;
                    }
                    let reference = match &alert.condition {
                        Condition::Move { window_secs, .. } if list == 1 => {
                            match references.get(&(i, *window_secs)) {
                                Some(r) => Some(*r),
                                None => continue,
                            }
                        }
                        _ if list == 1 => continue,
                        _ => None,
                    };
                    if crosses(&alert.condition, &m.previous, &m.usd, reference.as_ref()) {
                        let job = AlertJob {
                            alert_id: alert.id,
                            coin: m.coin.clone(),
                            symbol: m.symbol.clone(),
                            condition: alert.condition.clone(),
                            usd: m.usd,
                            previous_usd: m.previous,
                            reference_usd: reference,
                            as_of: m.as_of,
                            fetched_at: m.fetched_at,
                            source: m.source.clone(),
                        };
                        jobs.push(Crossing {
                            job,
                            cooldown_secs: alert.cooldown_secs,
                        });
                    }
                }
            }
        }
        Ok(jobs)
    }
}

/// Whether the step from `previous` to `usd` crosses `condition` (for a `move`, against
/// `reference`), exactly.
pub fn crosses(
    condition: &Condition,
    previous: &Decimal,
    usd: &Decimal,
    reference: Option<&Decimal>,
) -> bool {
    match condition {
        Condition::Above { usd: x } => previous < x && x <= usd,
        Condition::Below { usd: x } => usd <= x && x < previous,
        Condition::Move {
            percent, direction, ..
        } => {
            let Some(reference) = reference.filter(|r| **r > Decimal::ZERO) else {
                return false;
            };
            let moved = |price: &Decimal| moved(price, reference, percent, *direction);
            moved(usd) && !moved(previous)
        }
    }
}

/// Whether `price` is `percent` or more away from `reference` in `direction`, without dividing:
/// up is `price × 100 ≥ reference × (100 + percent)`, down is `price × 100 ≤ reference × (100 −
/// percent)`. A product too large for a decimal counts as not moved.
fn moved(price: &Decimal, reference: &Decimal, percent: &Decimal, direction: Direction) -> bool {
    let hundred = Decimal::ONE_HUNDRED;
    let scaled = price.checked_mul(hundred);
    let up = || -> Option<bool> {
        Some(scaled? >= reference.checked_mul(hundred.checked_add(*percent)?)?)
    };
    let down = || -> Option<bool> {
        Some(scaled? <= reference.checked_mul(hundred.checked_sub(*percent)?)?)
    };
    let (up, down) = (|| up().unwrap_or(false), || down().unwrap_or(false));
    match direction {
        Direction::Up => up(),
        Direction::Down => down(),
        Direction::Any => up() || down(),
    }
}

/// The score range holding every threshold between `a` and `b`, widened by far more than a
/// double's rounding of either, so no exact crossing is missed; the exact check drops extras.
fn widen(a: &Decimal, b: &Decimal) -> (f64, f64) {
    let (a, b) = (score(a), score(b));
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let slack = |x: f64| x.abs() * 1e-9 + 1e-12;
    (low - slack(low), high + slack(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn thresholds_cross_once_each_way_exactly() {
        let above = Condition::Above { usd: d("100") };
        assert!(crosses(&above, &d("99.99999999"), &d("100"), None));
        assert!(crosses(&above, &d("99"), &d("101"), None));
        assert!(
            !crosses(&above, &d("100"), &d("101"), None),
            "already at it"
        );
        assert!(!crosses(&above, &d("101"), &d("99"), None), "falling");
        let below = Condition::Below { usd: d("100") };
        assert!(crosses(&below, &d("100.00000001"), &d("100"), None));
        assert!(!crosses(&below, &d("100"), &d("99"), None), "already at it");
        assert!(!crosses(&below, &d("99"), &d("101"), None), "rising");
    }

    #[test]
    fn a_move_fires_when_it_reaches_the_percentage_against_the_reference() {
        let up = Condition::Move {
            percent: d("5"),
            window_secs: 3600,
            direction: Direction::Up,
        };
        let r = d("100");
        assert!(crosses(&up, &d("104.99"), &d("105"), Some(&r)));
        assert!(
            !crosses(&up, &d("105"), &d("106"), Some(&r)),
            "had moved already"
        );
        assert!(
            !crosses(&up, &d("100"), &d("94"), Some(&r)),
            "the other way"
        );
        assert!(!crosses(&up, &d("100"), &d("105"), None), "no reference");
        let any = Condition::Move {
            percent: d("5"),
            window_secs: 3600,
            direction: Direction::Any,
        };
        assert!(crosses(&any, &d("96"), &d("95"), Some(&r)));
        assert!(crosses(&any, &d("96"), &d("105"), Some(&r)));
    }

    #[test]
    fn the_score_range_holds_thresholds_a_double_rounds_past() {
        // 0.1 + 0.2 as decimals is exactly 0.3; as doubles the bounds must still hold 0.3.
        let (low, high) = widen(&d("0.2999999999999999999"), &d("0.3"));
        assert!(low <= 0.3 && 0.3 <= high);
        let (low, high) = widen(&d("70000.00000000000001"), &d("69999.99999999999999"));
        assert!(low <= 70000.0 && 70000.0 <= high);
    }
}

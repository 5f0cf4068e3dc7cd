//! The price moves waiting for evaluation: a Redis stream the price write script appends to
//! (`write_prices.lua`: one entry per written record of a coin with alerts, in the same atomic
//! step as the write), read by the alerts-workers through one consumer group. An entry is
//! acknowledged (and deleted) only once its crossings are on the `alerts` queue; one whose
//! evaluator died, or whose enqueue failed (Redis down, the queue full), stays pending and is
//! claimed again after [`STALE_AFTER`]. So no crossing is lost between a price write and its
//! delivery's task, whatever fails in between; the trigger's idempotency key makes a second
//! evaluation of one entry harmless.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use redis::{Value, aio::ConnectionManager};

use super::{AlertWatch, EvaluateError, Fired, PriceMove};
use crate::{domain::CoinId, keys::Keys};

/// The consumer group every alerts-worker reads the log in.
pub const GROUP: &str = "evaluators";
/// Most entries the log keeps (about 200 bytes each): past it, the oldest are dropped, which
/// only happens while no alerts-worker has run for a long time.
pub const MAX_ENTRIES: u64 = 100_000;
/// A pending entry untouched this long belongs to an evaluator that died or failed: another
/// takes it.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// One entry of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMove {
    /// The stream entry's id, to acknowledge it.
    pub id: String,
    /// `None`: an entry that does not parse (acknowledged and dropped).
    pub price_move: Option<PriceMove>,
}

/// The stream of price moves of one deployment.
#[derive(Debug, Clone)]
pub struct MoveLog {
    conn: ConnectionManager,
    key: String,
    stale_after: Duration,
}

impl MoveLog {
    pub fn new(conn: ConnectionManager, keys: &Keys) -> Self {
        Self {
            conn,
            key: keys.alert_moves(),
            stale_after: STALE_AFTER,
        }
    }

    /// Takes over pending entries after `stale_after` instead of [`STALE_AFTER`] (tests).
    pub fn with_stale_after(mut self, stale_after: Duration) -> Self {
        self.stale_after = stale_after;
        self
    }

    /// Makes the consumer group if there is none; it starts at the log's first entry, so the
    /// moves written before any alerts-worker ran are evaluated too.
    pub async fn ensure_group(&self) -> redis::RedisResult<()> {
        let made: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn.clone())
            .await;
        match made {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Up to `count` entries no evaluator has been given yet, waiting up to `block` for one.
    /// The connection must be one of the caller's own: `block` holds it.
    pub async fn read_new(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> redis::RedisResult<Vec<LoggedMove>> {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(">")
            .query_async(&mut self.conn.clone())
            .await?;
        // [[key, [[id, [field, value, ...]], ...]]], or nil when the block ran out.
        let entries = match reply {
            Value::Array(mut streams) if !streams.is_empty() => match streams.swap_remove(0) {
                Value::Array(mut pair) if pair.len() == 2 => pair.swap_remove(1),
                _ => Value::Nil,
            },
            _ => Value::Nil,
        };
        Ok(parse_entries(entries))
    }

    /// Up to `count` entries pending longer than [`STALE_AFTER`] with any evaluator (this one
    /// included: an entry whose evaluation failed), now this one's.
    pub async fn claim_stale(
        &self,
        consumer: &str,
        count: usize,
    ) -> redis::RedisResult<Vec<LoggedMove>> {
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.key)
            .arg(GROUP)
            .arg(consumer)
            .arg(self.stale_after.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn.clone())
            .await?;
        // [next cursor, [[id, fields], ...], [deleted ids]]
        let entries = match reply {
            Value::Array(mut parts) if parts.len() >= 2 => parts.swap_remove(1),
            _ => Value::Nil,
        };
        Ok(parse_entries(entries))
    }

    /// Acknowledges entries and deletes them: the log holds only what is still to evaluate.
    pub async fn ack(&self, ids: &[String]) -> redis::RedisResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("XACK").arg(&self.key).arg(GROUP).arg(ids).ignore();
        pipe.cmd("XDEL").arg(&self.key).arg(ids).ignore();
        pipe.query_async(&mut self.conn.clone()).await
    }

    /// Leaves the group as `consumer` when it holds no pending entry (a stopping evaluator),
    /// so the group does not collect a consumer per process ever started. One that still holds
    /// entries stays: deleting it would drop them, and another evaluator takes them over.
    pub async fn leave(&self, consumer: &str) -> redis::RedisResult<bool> {
        let pending: Vec<Value> = redis::cmd("XPENDING")
            .arg(&self.key)
            .arg(GROUP)
            .arg("-")
            .arg("+")
            .arg(1)
            .arg(consumer)
            .query_async(&mut self.conn.clone())
            .await?;
        if !pending.is_empty() {
            return Ok(false);
        }
        let _: i64 = redis::cmd("XGROUP")
            .arg("DELCONSUMER")
            .arg(&self.key)
            .arg(GROUP)
            .arg(consumer)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(true)
    }

    /// Entries written and not yet acknowledged.
    pub async fn len(&self) -> redis::RedisResult<u64> {
        redis::cmd("XLEN")
            .arg(&self.key)
            .query_async(&mut self.conn.clone())
            .await
    }

    /// Evaluates `entries` and acknowledges them once their crossings are enqueued; on an
    /// error they stay pending (claimed again after [`STALE_AFTER`]).
    pub async fn evaluate(
        &self,
        watch: &AlertWatch,
        entries: Vec<LoggedMove>,
    ) -> Result<Fired, EvaluateError> {
        if entries.is_empty() {
            return Ok(Fired::default());
        }
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let moves: Vec<PriceMove> = entries.into_iter().filter_map(|e| e.price_move).collect();
        let fired = watch.on_moves(&moves).await?;
        self.ack(&ids).await?;
        Ok(fired)
    }
}

fn parse_entries(entries: Value) -> Vec<LoggedMove> {
    let Value::Array(entries) = entries else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(mut entry) = entry else {
                return None;
            };
            if entry.len() != 2 {
                return None;
            }
            let fields = entry.pop()?;
            let id: String = redis::from_redis_value(entry.pop()?).ok()?;
            let fields: HashMap<String, String> =
                redis::from_redis_value(fields).unwrap_or_default();
            Some(LoggedMove {
                id,
                price_move: parse_move(&fields),
            })
        })
        .collect()
}

fn parse_move(fields: &HashMap<String, String>) -> Option<PriceMove> {
    let field = |name: &str| fields.get(name).map(String::as_str);
    let millis = |name: &str| -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(field(name)?.parse().ok()?)
    };
    Some(PriceMove {
        coin: CoinId::parse(field("coin")?).ok()?,
        symbol: field("symbol").unwrap_or_default().to_owned(),
        previous: field("previous")?.parse().ok()?,
        usd: field("usd")?.parse().ok()?,
        as_of: millis("as_of")?,
        fetched_at: millis("fetched")?,
        source: field("source").unwrap_or_default().to_owned(),
    })
}

//! Catch-up: if the latest scheduled time of an entry has not run (first start, the scheduler
//! was down, Redis was down at the tick), claim that one tick, once. A scheduler stopped for
//! three periods runs the entry once on restart, not three times; Celery beat does the same.
//!
//! On the very first start there is no run record, so the entry runs at once: this is what
//! makes a fresh `coinbeat up` show prices within seconds instead of after the first period.
//!
//! A paused entry is not caught up, and after a resume a tick scheduled at or before the resume
//! is never caught up: the pause skipped it on purpose (see `coinbeat_shared::schedule_control`).

use chrono::{DateTime, Utc};
use coinbeat_shared::{schedule_control::read_pause, schedule_state::read_schedule_record};

use crate::{
    claim::{Claim, ClaimError, Claimer, Trigger},
    entry::Entry,
};

/// Most missed ticks counted for the log line (an every-second entry down for a day would
/// otherwise make us iterate 86,400 times just to say so).
const MAX_COUNTED: usize = 10_000;

/// The tick catch-up claims: the latest scheduled time at or before `now`, unless the record's
/// `last_tick_ms` already reached it or the entry was resumed at or after it (`resumed_ms`).
pub fn due_tick(
    entry: &Entry,
    last_tick_ms: Option<i64>,
    resumed_ms: Option<i64>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let latest = entry.latest_at_or_before(now)?;
    match last_tick_ms.max(resumed_ms) {
        Some(last) if last >= latest.timestamp_millis() => None,
        _ => Some(latest),
    }
}

/// Brings `entry` up to date as of `now`: reads its run record and claims the latest missed
/// tick (under the same claim key as the beat, so a replica starting at the same moment, or
/// the beat firing that very tick, does not double it). Also publishes the next run time.
pub async fn catch_up(
    claimer: &Claimer,
    entry: &Entry,
    now: DateTime<Utc>,
) -> Result<Option<Claim>, ClaimError> {
    let record = read_schedule_record(claimer.conn(), claimer.keys(), entry.name()).await?;
    let last = record.and_then(|r| r.last_tick_ms);
    claimer.publish_next(entry, now).await?;
    let pause = read_pause(claimer.conn(), claimer.keys(), entry.name()).await?;
    if pause.is_paused() {
        tracing::debug!(entry = entry.name(), "paused; no catch-up");
        return Ok(None);
    }
    let Some(tick) = due_tick(entry, last, pause.resumed_ms, now) else {
        tracing::debug!(entry = entry.name(), "up to date");
        return Ok(None);
    };
    match last.and_then(DateTime::<Utc>::from_timestamp_millis) {
        None => tracing::info!(
            entry = entry.name(), tick = %tick.to_rfc3339(),
            "no run recorded; running the latest scheduled time now"
        ),
        Some(last) => {
            let missed = entry
                .schedule()
                .after(&last)
                .take_while(|t| *t <= tick)
                .take(MAX_COUNTED)
                .count();
            tracing::info!(
                entry = entry.name(), last_tick = %last.to_rfc3339(), tick = %tick.to_rfc3339(),
                missed, "missed ticks; running the latest once"
            );
            claimer
                .metrics()
                .skipped(entry.name(), missed.saturating_sub(1) as u64);
        }
    }
    claimer.metrics().caught_up(entry.name());
    claimer.claim(entry, tick, Trigger::CatchUp).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinbeat_shared::{
        Settings, jobs::Queue, keys::Keys, queue::Producer, redis_conn, settings::ScheduleEntry,
        testing::TestRedis,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_catching_up_at_once_enqueue_one_task_then_nothing() {
        let redis = TestRedis::start();
        let settings = redis.settings();
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let conn = redis_conn::connect(&settings.redis).await.unwrap();
            let producer = Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
            replicas.push(Claimer::new(
                producer,
                conn,
                keys.clone(),
                crate::metrics::SchedulerMetrics::default(),
            ));
        }
        let e = every_five_minutes();
        let now = Utc::now();

        let (a, b) = tokio::join!(
            catch_up(&replicas[0], &e, now),
            catch_up(&replicas[1], &e, now)
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        let enqueued: Vec<_> = outcomes
            .iter()
            .filter(|o| matches!(o, Some(Claim::Enqueued(_))))
            .collect();
        assert_eq!(enqueued.len(), 1, "{outcomes:?}");
        let queued: u64 = redis::cmd("HLEN")
            .arg(keys.queue(&Queue::Prices.name()).data())
            .query_async(&mut replicas[0].conn().clone())
            .await
            .unwrap();
        assert_eq!(queued, 1);

        let again = catch_up(&replicas[1], &e, now).await.unwrap();
        assert_eq!(again, None, "the record says the latest tick ran");
        let record = read_schedule_record(replicas[0].conn(), &keys, "prices")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record.last_tick_ms,
            e.latest_at_or_before(now).map(|t| t.timestamp_millis())
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn every_five_minutes() -> Entry {
        let spec = ScheduleEntry {
            cron: "0 */5 * * * *".into(),
            kind: Queue::Prices,
            args: serde_json::json!({}),
            enabled: true,
            tier: None,
        };
        Entry::parse("prices", &spec, &Settings::default()).unwrap()
    }

    #[test]
    fn with_no_record_the_latest_scheduled_time_runs_at_once() {
        let e = every_five_minutes();
        assert_eq!(
            due_tick(&e, None, None, at("2025-01-01T10:07:30Z")),
            Some(at("2025-01-01T10:05:00Z"))
        );
    }

    #[test]
    fn three_missed_periods_catch_up_once_with_the_latest_tick() {
        let e = every_five_minutes();
        let last = at("2025-01-01T09:50:00Z").timestamp_millis();
        // 09:55, 10:00 and 10:05 were missed; only 10:05 is claimed.
        assert_eq!(
            due_tick(&e, Some(last), None, at("2025-01-01T10:07:30Z")),
            Some(at("2025-01-01T10:05:00Z"))
        );
    }

    #[test]
    fn a_tick_scheduled_before_the_resume_is_not_caught_up_and_the_next_one_is() {
        let e = every_five_minutes();
        let last = at("2025-01-01T09:50:00Z").timestamp_millis();
        let resumed = at("2025-01-01T10:06:00Z").timestamp_millis();
        assert_eq!(
            due_tick(&e, Some(last), Some(resumed), at("2025-01-01T10:07:30Z")),
            None,
            "10:05 fell while paused"
        );
        assert_eq!(
            due_tick(&e, Some(last), Some(resumed), at("2025-01-01T10:12:00Z")),
            Some(at("2025-01-01T10:10:00Z")),
            "10:10 came after the resume and was missed"
        );
        assert_eq!(
            due_tick(&e, None, Some(resumed), at("2025-01-01T10:07:30Z")),
            None,
            "an entry paused before it ever ran does not run at once on resume"
        );
    }

    #[test]
    fn an_entry_whose_latest_tick_ran_is_left_alone() {
        let e = every_five_minutes();
        let last = at("2025-01-01T10:05:00Z").timestamp_millis();
        assert_eq!(
            due_tick(&e, Some(last), None, at("2025-01-01T10:09:59Z")),
            None
        );
        assert_eq!(
            due_tick(&e, Some(last), None, at("2025-01-01T10:10:00Z")),
            Some(at("2025-01-01T10:10:00Z")),
            "a tick exactly at now is due"
        );
    }
}

//! Writing the run record of a schedule entry (the HASH `Keys::schedule_entry`, fields named in
//! `coinbeat_shared::schedule_state`, which also reads it). `last_tick_ms` only ever increases.

use std::sync::LazyLock;

use coinbeat_shared::{keys::Keys, queue::TaskId, schedule_state};
use redis::{Script, aio::ConnectionManager};

static RECORD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/record.lua")));

/// One enqueued tick, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TickRecord {
    /// The tick's scheduled time (unix ms), not the time it was handled.
    pub tick_ms: i64,
    /// The task holding the tick's claim.
    pub task_id: TaskId,
    /// When this replica enqueued it; `None` when another replica did.
    pub enqueued_ms: Option<i64>,
    /// The entry's next scheduled time after this tick.
    pub next_tick_ms: Option<i64>,
}

/// Records `tick` unless a newer tick is already recorded; returns whether it was.
pub(crate) async fn record_tick(
    conn: &ConnectionManager,
    keys: &Keys,
    entry: &str,
    tick: &TickRecord,
) -> Result<bool, redis::RedisError> {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let recorded: i64 = RECORD
        .key(keys.schedule_entry(entry))
        .arg(tick.tick_ms)
        .arg(tick.task_id.to_string())
        .arg(opt(tick.enqueued_ms))
        .arg(opt(tick.next_tick_ms))
        .invoke_async(&mut conn.clone())
        .await?;
    Ok(recorded == 1)
}

/// Sets the entry's next scheduled time as this replica computes it (at start-up, so a changed
/// cron expression shows at once).
pub(crate) async fn record_next(
    conn: &ConnectionManager,
    keys: &Keys,
    entry: &str,
    next_tick_ms: Option<i64>,
) -> Result<(), redis::RedisError> {
    let key = keys.schedule_entry(entry);
    let cmd = match next_tick_ms {
        Some(next) => {
            let mut c = redis::cmd("HSET");
            c.arg(key).arg(schedule_state::NEXT_TICK_MS).arg(next);
            c
        }
        None => {
            let mut c = redis::cmd("HDEL");
            c.arg(key).arg(schedule_state::NEXT_TICK_MS);
            c
        }
    };
    let _: i64 = cmd.query_async(&mut conn.clone()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinbeat_shared::{redis_conn, schedule_state::read_schedule_record, testing::TestRedis};

    #[tokio::test]
    async fn an_older_tick_never_overwrites_a_newer_one_and_a_loser_keeps_the_winners_time() {
        let redis = TestRedis::start();
        let settings = redis.settings();
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let (newer, older) = (TaskId::generate(), TaskId::generate());
        let tick = |tick_ms, task_id, enqueued_ms| TickRecord {
            tick_ms,
            task_id,
            enqueued_ms,
            next_tick_ms: Some(tick_ms + 1_000),
        };

        assert!(
            read_schedule_record(&conn, &keys, "e")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            record_tick(&conn, &keys, "e", &tick(2_000, newer, Some(2_005)))
                .await
                .unwrap()
        );
        assert!(
            !record_tick(&conn, &keys, "e", &tick(1_000, older, Some(2_010)))
                .await
                .unwrap(),
            "a late handler of an older tick is refused"
        );
        // The replica that lost the claim records the same tick with the winner's task.
        assert!(
            record_tick(&conn, &keys, "e", &tick(2_000, newer, None))
                .await
                .unwrap()
        );

        let r = read_schedule_record(&conn, &keys, "e")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.last_tick_ms, Some(2_000));
        assert_eq!(r.last_task_id, Some(newer));
        assert_eq!(r.last_enqueued_ms, Some(2_005));
        assert_eq!(r.next_tick_ms, Some(3_000));

        record_next(&conn, &keys, "e", Some(9_000)).await.unwrap();
        let r = read_schedule_record(&conn, &keys, "e")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((r.last_tick_ms, r.next_tick_ms), (Some(2_000), Some(9_000)));
    }

    #[test]
    fn the_script_writes_the_fields_the_shared_reader_reads() {
        let script = include_str!("lua/record.lua");
        for field in [
            schedule_state::LAST_TICK_MS,
            schedule_state::LAST_TASK_ID,
            schedule_state::LAST_ENQUEUED_MS,
            schedule_state::NEXT_TICK_MS,
        ] {
            assert!(script.contains(&format!("\"{field}\"")), "{field}");
        }
    }
}

//! Finished tasks written straight into a queue's layout, as many as a test or a benchmark
//! needs (a million in seconds), without running them: the records `ack.lua` would have left,
//! search logs included.

use redis::aio::ConnectionLike;

use crate::{jobs::QueueName, keys::Keys, queue::TaskId};

/// One finished task to write.
#[derive(Debug, Clone)]
pub struct FinishedTask {
    /// The payload's JSON text (the job's arguments).
    pub payload: String,
    /// `None`: done; `Some(error)`: dead with that last error.
    pub error: Option<String>,
    /// When it finished (unix ms); it was enqueued a second before.
    pub finished_ms: u64,
}

/// Writes `tasks` as finished tasks of `queue`, a thousand per pipeline; their ids, in order.
pub async fn write_finished(
    conn: &mut impl ConnectionLike,
    keys: &Keys,
    queue: &QueueName,
    tasks: impl IntoIterator<Item = FinishedTask>,
) -> redis::RedisResult<Vec<TaskId>> {
    let k = keys.queue(queue);
    let mut ids = Vec::new();
    let mut pipe = redis::pipe();
    let mut in_pipe = 0;
    for task in tasks {
        let id = TaskId::generate();
        let id_s = id.to_string();
        let (status, set) = match &task.error {
            None => ("Done", k.done()),
            Some(_) => ("Killed", k.dead()),
        };
        pipe.hset(k.data(), &id_s, &task.payload).ignore();
        pipe.cmd("HSET")
            .arg(k.meta(&id_s))
            .arg(&[
                ("attempts", "1".to_owned()),
                ("max_attempts", "1".to_owned()),
                ("status", status.to_owned()),
                ("enqueued_at", (task.finished_ms - 1_000).to_string()),
                ("run_at", (task.finished_ms - 1_000).to_string()),
                ("done_at", task.finished_ms.to_string()),
            ])
            .ignore();
        if let Some(error) = &task.error {
            pipe.hset(k.meta(&id_s), "last_error", error).ignore();
            pipe.hset(k.errors(), &id_s, error).ignore();
        }
        pipe.zadd(k.finished(), &id_s, task.finished_ms).ignore();
        pipe.sadd(set, &id_s).ignore();
        // The line `ack.lua` would append to the hour's search log.
        let hour = task.finished_ms / 3_600_000;
        pipe.append(k.search_log(hour), format!("{id_s}\t{}\n", task.payload))
            .ignore();
        pipe.zadd(k.search_hours(), hour, hour).ignore();
        ids.push(id);
        in_pipe += 1;
        if in_pipe == 1_000 {
            pipe.query_async::<()>(conn).await?;
            pipe = redis::pipe();
            in_pipe = 0;
        }
    }
    if in_pipe > 0 {
        pipe.query_async::<()>(conn).await?;
    }
    Ok(ids)
}

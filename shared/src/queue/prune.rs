//! Retention: deletes finished task records past an age, which apalis never does.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{QueueError, scripts::PRUNE};
use crate::{jobs::QueueName, keys::Keys};

/// Deletes done and dead task records that finished more than `older_than` ago. Works in
/// steps of 500 so Redis is never blocked long; returns how many records were deleted.
pub async fn prune_finished(
    conn: &ConnectionManager,
    keys: &Keys,
    queue: &QueueName,
    older_than: Duration,
) -> Result<u64, QueueError> {
    const STEP: u64 = 500;
    let k = keys.queue(queue);
    let mut total = 0;
    loop {
        let n: u64 = PRUNE
            .key(k.finished())
            .key(k.done())
            .key(k.dead())
            .key(k.data())
            .arg(k.meta_prefix())
            .arg(older_than.as_millis() as u64)
            .arg(STEP)
            .invoke_async(&mut conn.clone())
            .await?;
        total += n;
        if n < STEP {
            return Ok(total);
        }
    }
}

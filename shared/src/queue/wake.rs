//! Waking idle workers: a Pub/Sub listener for "tasks available" and a promoter that moves due
//! delayed tasks onto the active list. apalis-redis parks an idle worker until its next
//! heartbeat, so without this an enqueued task could wait a whole heartbeat to start. The
//! promoter's tick also prunes one bounded step of finished records, so retention holds on a
//! queue where nothing is acked.

use std::{sync::Arc, time::Duration};

use futures::{Stream, StreamExt};
use redis::Client;

use super::conn::QueueConn;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{
    prune::{Retention, STEP as PRUNE_STEP, prune_step},
    scripts::PROMOTE,
};
use crate::keys::QueueKeys;

/// Most delayed tasks moved per script call.
const PROMOTE_STEP: u64 = 1_000;

/// Shared by the listener, the promoter and the worker's poll strategy.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wake {
    notify: Arc<Notify>,
}

impl Wake {
    /// A stream that yields when work may be available, and at least every `fallback`.
    ///
    /// Each time it yields it also wakes the task that polled it. apalis's `PollWith` polls
    /// its strategy on every poll of the worker but ignores what it answers, and a stream that
    /// has just yielded has nothing registered: when it yielded while a fetch was in flight
    /// (a fetch that began before the task was there, or while the queue was paused, and so
    /// finds nothing), the worker would park with no wake-up armed, and sleep past every later
    /// signal and past `fallback` too, until a heartbeat. The extra poll arms it again.
    pub(crate) fn stream(
        &self,
        fallback: Duration,
    ) -> impl Stream<Item = ()> + Send + Unpin + 'static {
        let notify = self.notify.clone();
        let mut wakes = futures::stream::unfold(notify, move |n| async move {
            tokio::select! {
                () = n.notified() => {},
                () = tokio::time::sleep(fallback) => {},
            }
            Some(((), n))
        })
        .boxed();
        futures::stream::poll_fn(move |cx| {
            let next = wakes.poll_next_unpin(cx);
            if next.is_ready() {
                cx.waker().wake_by_ref();
            }
            next
        })
    }

    fn signal(&self) {
        // notify_one stores a permit when nobody waits, so a message that arrives while the
        // worker is busy fetching is not lost.
        self.notify.notify_one();
    }

    /// Subscribes to the queue's "available" channel until cancelled, reconnecting after
    /// Redis errors.
    pub(crate) async fn listen(self, client: Client, keys: QueueKeys, stop: CancellationToken) {
        let channel = keys.available_channel();
        while !stop.is_cancelled() {
            match client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if let Err(e) = pubsub.subscribe(&channel).await {
                        tracing::debug!(error = %e, "subscribe failed");
                    } else {
                        // Anything enqueued while we were not subscribed is picked up now.
                        self.signal();
                        let mut messages = pubsub.on_message();
                        loop {
                            tokio::select! {
                                m = messages.next() => match m {
                                    Some(_) => self.signal(),
                                    None => break,
                                },
                                () = stop.cancelled() => return,
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "pubsub connect failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {},
                () = stop.cancelled() => return,
            }
        }
    }

    /// Every `period`, moves due delayed tasks to the active list in bounded steps, then
    /// prunes at most one step of finished records under `retention`.
    pub(crate) async fn promote(
        self,
        conn: QueueConn,
        keys: QueueKeys,
        period: Duration,
        retention: Retention,
        stop: CancellationToken,
    ) {
        let mut conn = conn;
        let mut was_pressed = false;
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {},
                () = stop.cancelled() => return,
            }
            loop {
                let moved: Result<u64, _> = PROMOTE
                    .key(keys.delayed())
                    .key(keys.active())
                    .key(keys.signal())
                    .arg(PROMOTE_STEP)
                    .invoke_async(&mut conn)
                    .await;
                match moved {
                    Ok(0) => break,
                    Ok(n) => {
                        self.signal();
                        if n < PROMOTE_STEP {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "promote failed");
                        break;
                    }
                }
            }
            let (age_ms, pressed) = retention.age_ms().await;
            if pressed != was_pressed {
                was_pressed = pressed;
                if pressed {
                    tracing::warn!(
                        high_water = retention.high_water,
                        "redis memory above the high-water mark: pruning finished task records \
                         oldest first, before their retention"
                    );
                } else {
                    tracing::info!("redis memory back under the high-water mark");
                }
            }
            match prune_step(&conn, &keys, age_ms, PRUNE_STEP).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(pruned = n, "pruned finished task records"),
                Err(e) => tracing::debug!(error = %e, "prune failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_idle_worker_wakes_at_once_on_a_signal_and_otherwise_every_fallback() {
        let wake = Wake::default();
        let fallback = Duration::from_secs(5);
        let mut wakes = wake.stream(fallback);

        // Nothing signalled: the first wake is the fallback's, not sooner.
        let start = Instant::now();
        wakes.next().await;
        assert_eq!(start.elapsed(), fallback);

        // A signal wakes at once.
        let start = Instant::now();
        wake.signal();
        wakes.next().await;
        assert_eq!(start.elapsed(), Duration::ZERO);

        // A signal given while nobody waited (the worker was busy fetching) is kept for the next
        // wait, not lost.
        wake.signal();
        tokio::time::advance(Duration::from_secs(1)).await;
        let start = Instant::now();
        wakes.next().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    /// A wake-up that yields asks to be polled again, so the stream is armed for the next
    /// signal even when the poller ignores what it answered (apalis's `PollWith`).
    #[tokio::test]
    async fn each_wake_up_asks_for_another_poll_so_the_next_signal_is_not_lost() {
        use std::{
            sync::atomic::{AtomicUsize, Ordering},
            task::{Context, Wake as TaskWake, Waker},
        };
        struct Count(AtomicUsize);
        impl TaskWake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let wake = Wake::default();
        let mut wakes = wake.stream(Duration::from_secs(3600));

        assert!(wakes.poll_next_unpin(&mut cx).is_pending());
        wake.signal();
        assert!(wakes.poll_next_unpin(&mut cx).is_ready());
        let after_yield = woken.0.load(Ordering::SeqCst);
        assert!(
            after_yield >= 2,
            "the signal's wake and the yield's own: {after_yield}"
        );

        // The extra poll arms it: a later signal wakes the poller again.
        assert!(wakes.poll_next_unpin(&mut cx).is_pending());
        wake.signal();
        assert!(woken.0.load(Ordering::SeqCst) > after_yield);
        assert!(wakes.poll_next_unpin(&mut cx).is_ready());
    }
}

//! Watched wallets added in Redis (`/v1/admin/wallets`) become beats while the scheduler runs:
//! an added address gets wallet jobs on `wallets.watch_cron`, and a removed one stops getting
//! them, without a restart.

use std::time::{Duration, Instant};

use coinbeat_scheduler::{SchedulerMetrics, run_with};
use coinbeat_shared::{
    domain::{Address, Chain},
    jobs::Queue,
    keys::Keys,
    metrics::Registry,
    queue::queue_stats,
    redis_conn,
    testing::TestRedis,
    watched_wallets,
};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_added_in_redis_is_analysed_on_the_watch_cron_until_it_is_removed() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    settings.schedule.clear();
    settings.wallets.watch_cron = "* * * * * *".into();
    settings.wallets.watch_refresh_secs = 1;
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let queue = Queue::Wallet.name();
    let queue_settings = settings.queues.for_queue(&queue);
    let waiting = async || {
        queue_stats(&conn, &keys, &queue, &queue_settings)
            .await
            .unwrap()
            .waiting
    };

    let shutdown = CancellationToken::new();
    let metrics = SchedulerMetrics::new(&Registry::new());
    let beat = tokio::spawn(run_with(settings.clone(), metrics, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(waiting().await, 0, "nothing is watched yet");

    let address = Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap();
    assert!(
        watched_wallets::add(&conn, &keys, Chain::Ethereum, &address)
            .await
            .unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while waiting().await < 2 {
        assert!(
            Instant::now() < deadline,
            "the added wallet was never analysed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let payload: String = redis::cmd("HVALS")
        .arg(keys.queue(&queue).data())
        .query_async::<Vec<String>>(&mut conn.clone())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&payload).unwrap(),
        serde_json::json!({"chain": "ethereum", "address": address.as_str()})
    );

    assert!(
        watched_wallets::remove(&conn, &keys, Chain::Ethereum, &address)
            .await
            .unwrap()
    );
    // Within one refresh (plus a tick in flight) the beat stops.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let after_stop = waiting().await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(waiting().await, after_stop, "no job after the removal");

    shutdown.cancel();
    beat.await.unwrap().unwrap();
}

//! The health worker against the simulator and a real, private redis-server: an upstream the
//! simulator stops turns `down` (and the whole report `degraded`), and `up` when it returns;
//! a queue with waiting tasks and no live worker is `down`.

use coinbeat_shared::{
    cache::{HealthReport, Status},
    jobs::{HealthJob, MarketJob},
    queue::{EnqueueOptions, Producer},
    testing::TestRedis,
};
use coinbeat_sim::{ControlRequest, SimConfig};
use coinbeat_workers::{boot::WorkerEnv, health::HealthWorker};

#[tokio::test]
async fn an_upstream_the_simulator_stops_is_down_and_up_again_when_it_returns() {
    let redis = TestRedis::start();
    let sim = coinbeat_sim::start(SimConfig::default()).await.unwrap();
    let mut settings = redis.settings();
    settings.providers.coingecko.base_url = sim.base_url();
    settings.providers.binance.enabled = false;
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    let worker = HealthWorker::new(&env).unwrap();
    let coingecko = |report: &HealthReport| {
        report
            .upstreams
            .iter()
            .find(|u| u.name == "coingecko")
            .cloned()
            .unwrap()
    };

    worker.handle(HealthJob {}).await.unwrap();
    let report = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    assert_eq!(coingecko(&report).status, Status::Up, "{report:?}");
    assert_eq!(report.status, Status::Up, "{report:?}");
    assert_eq!(report.redis.status, Status::Up);
    assert!(report.redis.used_memory_bytes.unwrap() > 0);
    assert_eq!(report.queues.len(), 5);

    sim.control(&ControlRequest {
        down: Some(true),
        ..Default::default()
    })
    .unwrap();
    // A market task waits with no market worker alive: that queue is down too.
    Producer::new(conn.clone(), keys.clone(), settings.queues.clone())
        .enqueue(&MarketJob { limit: 10 }, EnqueueOptions::default())
        .await
        .unwrap();
    worker.handle(HealthJob {}).await.unwrap();
    let report = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    let cg = coingecko(&report);
    assert_eq!(cg.status, Status::Down, "{report:?}");
    assert!(cg.error.unwrap().contains("503"));
    let market = report.queues.iter().find(|q| q.queue == "market").unwrap();
    assert_eq!((market.status, market.waiting), (Status::Down, 1));
    assert_eq!(
        report.status,
        Status::Degraded,
        "Redis is up, so degraded, not down"
    );

    sim.control(&ControlRequest {
        down: Some(false),
        ..Default::default()
    })
    .unwrap();
    worker.handle(HealthJob {}).await.unwrap();
    let report = HealthReport::load(&conn, &keys).await.unwrap().unwrap();
    assert_eq!(coingecko(&report).status, Status::Up);
}

//! The wallet worker against a fake Etherscan (wiremock) and a real, private redis-server:
//! paging up to the bound, totals that match the ledger, the cached ETH price for the USD value,
//! newest-wins writes, the rate-limit body, and a missing key (dead after one attempt).

#[path = "common/fake_etherscan.rs"]
mod fake_etherscan;

use std::time::Duration;

use chrono::Utc;
use coinbeat_shared::{
    Settings,
    cache::{PriceCache, PriceRecord, WalletCache},
    domain::{Address, Chain},
    jobs::{Job, WalletJob},
    queue::{EnqueueOptions, Producer, TaskStatus, WorkerRuntime, lookup_task},
    redis_conn,
    settings::Secret,
    testing::TestRedis,
};
use coinbeat_workers::{boot::WorkerEnv, wallet::WalletWorker};
use fake_etherscan::*;
use tokio_util::sync::CancellationToken;

struct Ctx {
    _redis: TestRedis,
    settings: Settings,
    env: WorkerEnv,
    worker: WalletWorker,
    cache: WalletCache,
}

async fn setup(fake: Option<&FakeEtherscan>, tune: impl FnOnce(&mut Settings)) -> Ctx {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    if let Some(fake) = fake {
        settings.providers.etherscan.base_url = fake.uri();
        settings.providers.etherscan.api_key = Some(Secret::new(KEY));
    }
    tune(&mut settings);
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    Ctx {
        _redis: redis,
        worker: WalletWorker::new(&env).unwrap(),
        cache: WalletCache::new(conn, keys, &settings.wallets),
        env,
        settings,
    }
}

fn job() -> WalletJob {
    WalletJob {
        chain: Chain::Ethereum,
        address: Address::parse(WALLET).unwrap(),
    }
}

/// A ledger of `n` transactions, newest first, alternating in from Alice and out to Bob; and
/// `m` USDC transfers in from Alice. Returns it with the sums the analysis must report.
fn ledger(n: u64, m: u64) -> (Ledger, u128, u128) {
    let now = Utc::now().timestamp() as u64;
    let (mut received, mut sent) = (0u128, 0u128);
    let txs = (0..n)
        .rev()
        .map(|i| {
            let wei = 1_000_000_000_000_000 * (i as u128 + 1) + i as u128;
            if i % 2 == 0 {
                received += wei;
                tx(i, ALICE, WALLET, &wei.to_string(), now - 86_400 * (i + 1))
            } else {
                sent += wei;
                tx(i, WALLET, BOB, &wei.to_string(), now - 86_400 * (i + 1))
            }
        })
        .collect();
    let transfers = (0..m)
        .rev()
        .map(|i| transfer(i, ALICE, WALLET, USDC, "1000001", 6, now - 3_600 * (i + 1)))
        .collect();
    let ledger = Ledger {
        balance_wei: "2500000000000000000".into(),
        txs,
        transfers,
    };
    (ledger, received, sent)
}

fn eth(wei: u128) -> String {
    coinbeat_shared::domain::Units::from_u128(wei).to_decimal_string(18)
}

#[tokio::test]
async fn a_wallet_longer_than_one_page_is_read_to_its_end_and_the_totals_match_the_ledger() {
    let (ledger, received, sent) = ledger(7, 4);
    let fake = FakeEtherscan::serving(ledger).await;
    let ctx = setup(Some(&fake), |s| {
        s.wallets.page_size = 3;
        s.wallets.max_pages = 10;
    })
    .await;
    let eth_price = PriceRecord {
        symbol: "ETH".into(),
        coin_id: coinbeat_shared::domain::CoinId::parse("ethereum").unwrap(),
        usd: "3000.5".parse().unwrap(),
        change_24h_pct: None,
        market_cap_usd: None,
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at: Utc::now(),
        source: "coingecko".into(),
    };
    PriceCache::new(
        ctx.env.conn.clone(),
        ctx.env.keys.clone(),
        &ctx.settings.prices,
    )
    .write(&[eth_price])
    .await
    .unwrap();

    let result = ctx.worker.handle(job()).await.unwrap().unwrap();

    assert_eq!(result["written"], true, "{result}");
    assert_eq!(result["complete"], true, "{result}");
    // balance + txlist pages 1..3 (3, 3, 1 rows) + tokentx pages 1..2 (3, 1 rows).
    assert_eq!(result["upstream_requests"], 6, "{result}");
    let pages: Vec<(String, String)> = fake.calls();
    assert_eq!(
        pages,
        [
            ("balance", ""),
            ("txlist", "1"),
            ("txlist", "2"),
            ("txlist", "3"),
            ("tokentx", "1"),
            ("tokentx", "2"),
        ]
        .map(|(a, p)| (a.to_owned(), p.to_owned()))
    );

    let cached = ctx
        .cache
        .get(Chain::Ethereum, &job().address)
        .await
        .unwrap()
        .expect("cached");
    assert_eq!(cached.transaction_count, 7);
    assert_eq!(cached.total_received, eth(received));
    assert_eq!(cached.total_sent, eth(sent));
    assert_eq!(cached.balance, "2.5");
    assert_eq!(cached.balance_usd.unwrap().to_string(), "7501.25");
    assert_eq!(cached.token_transfer_count, 4);
    assert_eq!(cached.tokens.len(), 1);
    assert_eq!(cached.tokens[0].raw_amount, "4000004");
    assert_eq!(cached.tokens[0].amount, "4.000004");
    assert_eq!(cached.top_counterparties[0].address.as_str(), ALICE);
    assert_eq!(cached.top_counterparties[0].transactions, 4);
    assert!(cached.complete);
    assert_eq!(cached.source, "etherscan");
}

#[tokio::test]
async fn the_page_bound_stops_the_reading_and_the_analysis_says_it_is_incomplete() {
    let (ledger, _, _) = ledger(9, 0);
    let fake = FakeEtherscan::serving(ledger).await;
    let ctx = setup(Some(&fake), |s| {
        s.wallets.page_size = 2;
        s.wallets.max_pages = 3;
    })
    .await;

    let result = ctx.worker.handle(job()).await.unwrap().unwrap();

    assert_eq!(result["complete"], false, "{result}");
    assert_eq!(result["transaction_count"], 6, "3 pages of 2, the newest");
    let txlist_pages = fake.calls().iter().filter(|(a, _)| a == "txlist").count();
    assert_eq!(txlist_pages, 3);
    let cached = ctx
        .cache
        .get(Chain::Ethereum, &job().address)
        .await
        .unwrap()
        .unwrap();
    assert!(!cached.complete);
    assert!(
        !cached.flags.new,
        "without the whole history a wallet is not called new"
    );
}

#[tokio::test]
async fn an_older_analysis_never_replaces_a_newer_one() {
    let (ledger, _, _) = ledger(2, 0);
    let fake = FakeEtherscan::serving(ledger).await;
    let ctx = setup(Some(&fake), |_| {}).await;
    ctx.worker.handle(job()).await.unwrap();
    let newest = ctx
        .cache
        .get(Chain::Ethereum, &job().address)
        .await
        .unwrap()
        .unwrap();

    let mut older = newest.clone();
    older.fetched_at = newest.fetched_at - chrono::Duration::seconds(10);
    older.balance = "999".into();
    assert!(!ctx.cache.write(&older).await.unwrap());
    let mut same = newest.clone();
    same.balance = "998".into();
    assert!(
        !ctx.cache.write(&same).await.unwrap(),
        "equal time is not newer"
    );

    let cached = ctx
        .cache
        .get(Chain::Ethereum, &job().address)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cached, newest);
}

#[tokio::test]
async fn the_rate_limit_body_fails_the_job_as_throttled_and_writes_nothing() {
    let fake = FakeEtherscan::bare().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(refusal("Max calls per sec rate limit reached (3/sec)")),
        )
        .mount(&fake.server)
        .await;
    let ctx = setup(Some(&fake), |_| {}).await;

    let error = ctx.worker.handle(job()).await.unwrap_err();

    assert!(!error.is_permanent(), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)), "{error}");
    assert!(
        ctx.cache
            .get(Chain::Ethereum, &job().address)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn without_a_key_a_wallet_job_is_dead_after_one_attempt_naming_the_setting_and_nothing_is_asked()
 {
    let fake = FakeEtherscan::serving(Ledger::default()).await;
    let ctx = setup(None, |s| {
        s.providers.etherscan.base_url = fake.uri();
        s.queues.defaults.max_retries = 3;
        s.queues.defaults.poll_interval_ms = 20;
    })
    .await;
    assert!(!ctx.worker.has_key());
    let (conn, keys) = (ctx.env.conn.clone(), ctx.env.keys.clone());
    let stop = CancellationToken::new();
    let runtime = WorkerRuntime::new(
        redis_conn::client(&ctx.settings.redis).unwrap(),
        conn.clone(),
        keys.clone(),
        ctx.settings.queues.for_queue(&WalletJob::queue()),
    );
    let worker = ctx.worker.clone();
    let running = tokio::spawn(runtime.run(
        move |job: WalletJob, _ctx| {
            let worker = worker.clone();
            async move { worker.handle(job).await }
        },
        stop.clone(),
    ));
    let id = Producer::new(conn.clone(), keys.clone(), ctx.settings.queues.clone())
        .enqueue(&job(), EnqueueOptions::default())
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let info = loop {
        let info = lookup_task(&conn, &keys, &WalletJob::queue(), id)
            .await
            .unwrap();
        if let Some(info) = info.filter(|i| i.status == TaskStatus::Dead) {
            break info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task never died"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.cancel();
    running.await.unwrap().unwrap();

    assert_eq!(info.attempts, 1, "{info:?}");
    let reason = info.last_error.unwrap_or_default();
    assert!(reason.contains("ETHERSCAN_API_KEY"), "{reason}");
    assert!(fake.server.received_requests().await.unwrap().is_empty());
}

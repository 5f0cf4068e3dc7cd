//! The wallet worker end to end against the simulator's Etherscan (real HTTP, the sim's own
//! paging and wire format) and a real, private redis-server: a busy wallet (2,500 transactions,
//! 300 token transfers) is read page by page to its end, and the analysis's totals match the
//! simulator's ledger (`GET /sim/etherscan/ledger/{address}`); with a lower bound, exactly the
//! bound is read and the analysis says it is incomplete.

#[path = "common/simulated.rs"]
mod simulated;

use coinbeat_shared::{
    Settings,
    cache::WalletCache,
    domain::{Address, Chain, Units},
    jobs::WalletJob,
    testing::TestRedis,
};
use coinbeat_sim::{LedgerSummary, SimConfig, SimHandle};
use coinbeat_workers::{boot::WorkerEnv, wallet::WalletWorker};
use simulated::{Upstream, simulated};

/// The sim's ledgers: an address ending in `f` is busy.
const BUSY: &str = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf";

struct Ctx {
    _redis: TestRedis,
    sim: SimHandle,
    worker: WalletWorker,
    cache: WalletCache,
}

async fn setup(tune: impl FnOnce(&mut Settings)) -> Ctx {
    let mut config = SimConfig::default();
    // The worker reads pages one after another; the sim's per-second limit is not under test.
    config.faults.etherscan_calls_per_sec = 1_000;
    let (redis, sim, mut settings) = simulated(config, &[Upstream::Etherscan]).await;
    tune(&mut settings);
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let (conn, keys) = (env.conn.clone(), env.keys.clone());
    Ctx {
        _redis: redis,
        worker: WalletWorker::new(&env).unwrap(),
        cache: WalletCache::new(conn, keys, &settings.wallets),
        sim,
    }
}

async fn ledger(sim: &SimHandle, address: &str) -> LedgerSummary {
    reqwest::get(format!("{}/sim/etherscan/ledger/{address}", sim.root_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn eth(wei: &str) -> String {
    Units::parse(wei).unwrap().to_decimal_string(18)
}

#[tokio::test]
async fn a_busy_wallet_is_read_to_its_end_and_its_totals_match_the_simulators_ledger() {
    let ctx = setup(|s| {
        s.wallets.page_size = 1_000;
        s.wallets.max_pages = 10;
    })
    .await;
    let address = Address::parse(BUSY).unwrap();
    let job = WalletJob {
        chain: Chain::Ethereum,
        address: address.clone(),
    };

    let result = ctx.worker.handle(job).await.unwrap().unwrap();

    let truth = ledger(&ctx.sim, BUSY).await;
    assert_eq!(truth.profile, "busy");
    assert!(truth.normal.count > 1_000, "more than one page: {truth:?}");
    // balance + 3 txlist pages (1,000, 1,000, 500) + 1 tokentx page (300).
    assert_eq!(result["upstream_requests"], 5, "{result}");
    let a = ctx
        .cache
        .get(Chain::Ethereum, &address)
        .await
        .unwrap()
        .expect("cached");
    assert!(a.complete);
    assert_eq!(a.balance_wei, truth.balance_wei);
    assert_eq!(a.transaction_count, truth.normal.count);
    assert_eq!(a.token_transfer_count, truth.token.count);
    assert_eq!(a.total_received, eth(&truth.normal.eth_in_wei));
    assert_eq!(a.total_sent, eth(&truth.normal.eth_out_wei));
    let first = [truth.normal.first_timestamp, truth.token.first_timestamp]
        .into_iter()
        .flatten()
        .min();
    let last = [truth.normal.last_timestamp, truth.token.last_timestamp]
        .into_iter()
        .flatten()
        .max();
    assert_eq!(a.first_activity_at.map(|t| t.timestamp() as u64), first);
    assert_eq!(a.last_activity_at.map(|t| t.timestamp() as u64), last);
    // Every token with a positive net is held, with the ledger's net and decimals.
    let positive: Vec<(&String, &coinbeat_sim::TokenNet)> = truth
        .token
        .tokens
        .iter()
        .filter(|(_, t)| Units::parse(&t.net_raw).is_ok_and(|n| !n.is_zero()))
        .collect();
    assert_eq!(a.tokens.len(), positive.len(), "{:?}", a.tokens);
    for (contract, net) in positive {
        let held = a
            .tokens
            .iter()
            .find(|h| h.contract.as_str() == contract)
            .unwrap_or_else(|| panic!("{contract} not held"));
        assert_eq!(held.raw_amount, net.net_raw, "{contract}");
        assert_eq!(held.decimals, net.decimals, "{contract}");
        assert_eq!(held.transfers, net.transfers, "{contract}");
    }
}

#[tokio::test]
async fn a_busy_wallet_past_the_bound_is_read_up_to_the_bound_and_marked_incomplete() {
    let ctx = setup(|s| {
        s.wallets.page_size = 1_000;
        s.wallets.max_pages = 2;
    })
    .await;
    let address = Address::parse(BUSY).unwrap();
    let job = WalletJob {
        chain: Chain::Ethereum,
        address: address.clone(),
    };

    let result = ctx.worker.handle(job).await.unwrap().unwrap();

    assert_eq!(result["complete"], false, "{result}");
    assert_eq!(result["transaction_count"], 2_000, "{result}");
    let a = ctx
        .cache
        .get(Chain::Ethereum, &address)
        .await
        .unwrap()
        .unwrap();
    let truth = ledger(&ctx.sim, BUSY).await;
    assert_eq!(
        a.balance_wei, truth.balance_wei,
        "the balance is one call, never cut"
    );
    assert_eq!(
        a.last_activity_at.map(|t| t.timestamp() as u64),
        [truth.normal.last_timestamp, truth.token.last_timestamp]
            .into_iter()
            .flatten()
            .max(),
        "newest first: the latest activity is always read"
    );
}

//! The world the worker suites run in: a private redis-server, a simulator, and settings with
//! the providers a suite names pointed at the simulator (the others keep their defaults, so a
//! suite states which upstreams its worker may reach).

#![allow(dead_code)] // Each test binary uses a different part.

use coinbeat_shared::{Settings, settings::Secret, testing::TestRedis};
use coinbeat_sim::{SimConfig, SimHandle};

/// The upstreams a worker calls, as the settings name them (the simulator's own `Provider` is
/// a different set: it speaks for CoinCap's stream too).
pub use coinbeat_shared::ratelimit::Provider as Upstream;

/// The key the simulator's Etherscan takes.
pub const SIM_ETHERSCAN_KEY: &str = "sim-key";
/// The key given to the simulator's Alchemy, CoinCap and Alpha Vantage (which take any key unless the
/// simulator is configured with `api_keys`).
pub const SIM_PRICE_KEY: &str = "sim-price-key";

/// Starts a private Redis and a simulator of `config`, and returns both with the Redis's
/// settings, `providers` pointed at the simulator. The Redis runs as long as its handle is held.
pub async fn simulated(
    config: SimConfig,
    providers: &[Upstream],
) -> (TestRedis, SimHandle, Settings) {
    let redis = TestRedis::start();
    let sim = coinbeat_sim::start(config).await.unwrap();
    let mut settings = redis.settings();
    for &provider in providers {
        point_at(&mut settings, &sim, provider);
    }
    (redis, sim, settings)
}

/// Points `provider`'s base URL at `sim` (Etherscan, Alchemy and CoinCap with a key the
/// simulator takes).
pub fn point_at(settings: &mut Settings, sim: &SimHandle, provider: Upstream) {
    let providers = &mut settings.providers;
    match provider {
        Upstream::CoinGecko => providers.coingecko.base_url = sim.base_url(),
        Upstream::CoinLore => providers.coinlore.base_url = sim.coinlore_url(),
        Upstream::Binance => providers.binance.base_url = sim.binance_url(),
        Upstream::Etherscan => {
            providers.etherscan.base_url = sim.etherscan_url();
            providers.etherscan.api_key = Some(Secret::new(SIM_ETHERSCAN_KEY));
        }
        Upstream::Alchemy => {
            providers.alchemy.base_url = sim.alchemy_url();
            providers.alchemy.api_key = Some(Secret::new(SIM_PRICE_KEY));
        }
        Upstream::CoinCap => {
            providers.coincap.base_url = sim.coincap_rest_url();
            providers.coincap.api_key = Some(Secret::new(SIM_PRICE_KEY));
        }
        Upstream::AlphaVantage => {
            providers.alphavantage.base_url = sim.alphavantage_url();
            providers.alphavantage.api_key = Some(Secret::new(SIM_PRICE_KEY));
        }
    }
}

//! The limits `coinbeat up --simulate` has the simulator enforce: each provider's as the
//! settings configure them (`providers.<name>.rate_limit`), so a run shows whether coinbeat
//! keeps to its own plan. The simulator counts every refusal (`GET /sim/stats`); a run that
//! keeps to the plan has none.
//!
//! A provider's windows of one second and one minute are enforced (the simulator's per-second
//! and per-minute counts); longer ones (a day, a month) are the plan check's to hold, not a
//! run of minutes'. Binance keeps the simulator's own request-weight limit (its documented
//! 6,000 a minute): the configured limit counts the same weight.

use std::time::Duration;

use coinbeat_shared::{Settings, ratelimit::Provider as Upstream};
use coinbeat_sim::{Faults, Provider};

/// The simulator's faults for a run of `settings`: no injected fault, the configured limits.
pub fn sim_limits(settings: &Settings) -> Faults {
    let mut faults = Faults::default();
    for (upstream, provider) in [
        (Upstream::CoinGecko, Provider::CoinGecko),
        (Upstream::CoinLore, Provider::CoinLore),
        (Upstream::Etherscan, Provider::Etherscan),
        (Upstream::Alchemy, Provider::Alchemy),
        (Upstream::CoinCap, Provider::CoinCap),
        (Upstream::AlphaVantage, Provider::AlphaVantage),
    ] {
        // The settings were validated when they loaded.
        let Ok(spec) = settings.providers.rate_spec(upstream) else {
            continue;
        };
        let within = |period: Duration| {
            spec.windows()
                .iter()
                .filter(|w| w.period() == period)
                .map(|w| w.limit())
                .min()
        };
        let per_second = within(Duration::from_secs(1));
        let per_minute = within(Duration::from_secs(60));
        if provider == Provider::Etherscan {
            if let Some(calls) = per_second {
                faults.etherscan_calls_per_sec = calls;
            }
            continue;
        }
        let own = faults.provider_mut(provider);
        own.calls_per_sec = per_second.unwrap_or(0);
        own.rate_limit_per_minute = per_minute.unwrap_or(0);
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_second_and_minute_windows_become_the_simulators_limits() {
        let mut settings = Settings::default();
        settings.providers.coingecko.rate_limit = "30/min, 10000/month".into();
        settings.providers.coinlore.rate_limit = "1/s".into();
        settings.providers.etherscan.rate_limit = "3/s, 100000/day".into();

        let faults = sim_limits(&settings);

        assert_eq!(faults.coingecko.rate_limit_per_minute, 30);
        assert_eq!(faults.coingecko.calls_per_sec, 0);
        assert_eq!(faults.coinlore.calls_per_sec, 1);
        assert_eq!(faults.coinlore.rate_limit_per_minute, 0);
        assert_eq!(faults.etherscan_calls_per_sec, 3);
        assert_eq!(faults.rate_limit_per_minute, 0, "no global limit");
        assert_eq!(faults.binance_weight_per_minute, 6_000);
    }
}

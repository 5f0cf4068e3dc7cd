//! Per-provider faults and counters over real HTTP: one provider down while the others serve,
//! the global switch still taking every provider down, counters split by provider, and the
//! stream faults accepted only for a provider with a stream.
//!
//! Each round asks every REST provider once, in the order CoinGecko, Binance, Etherscan,
//! CoinLore, CoinCap (REST v3), Alchemy, Alpha Vantage.

mod common;

use coinbeat_sim::{Faults, Provider, ProviderFaults, Stats};
use common::{fetch, frozen_sim, get, sim_get, sim_post};
use serde_json::json;

async fn statuses(sim: &coinbeat_sim::SimHandle) -> [u16; 7] {
    let coingecko = get(sim, "/ping", &[]).await.status().as_u16();
    let binance = fetch(
        &format!("{}/api/v3/ticker/price", sim.binance_url()),
        &[("symbol", "BTCUSDT")],
    )
    .await
    .status()
    .as_u16();
    let etherscan_url = format!("{}/v2/api", sim.etherscan_url());
    let etherscan = fetch(
        &etherscan_url,
        &[
            ("chainid", "1"),
            ("module", "account"),
            ("action", "balance"),
            ("address", "0x1111111111111111111111111111111111111111"),
            ("apikey", "k"),
        ],
    )
    .await
    .status()
    .as_u16();
    let coinlore = fetch(&format!("{}/tickers/", sim.coinlore_url()), &[])
        .await
        .status()
        .as_u16();
    let coincap = fetch(
        &format!("{}/assets", sim.coincap_rest_url()),
        &[("ids", "bitcoin"), ("apiKey", "k")],
    )
    .await
    .status()
    .as_u16();
    let alchemy = fetch(
        &format!("{}/k/tokens/by-symbol", sim.alchemy_url()),
        &[("symbols", "BTC")],
    )
    .await
    .status()
    .as_u16();
    let alphavantage = fetch(
        &format!("{}/query", sim.alphavantage_url()),
        &[
            ("function", "CURRENCY_EXCHANGE_RATE"),
            ("from_currency", "USD"),
            ("to_currency", "EUR"),
            ("apikey", "k"),
        ],
    )
    .await
    .status()
    .as_u16();
    [
        coingecko,
        binance,
        etherscan,
        coinlore,
        coincap,
        alchemy,
        alphavantage,
    ]
}

#[tokio::test]
async fn one_provider_can_be_down_while_the_others_serve() {
    let sim = frozen_sim(1).await;

    let answer = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coingecko", "down": true }),
    )
    .await;
    let faults: Faults = answer.json().await.unwrap();
    let coingecko_down = statuses(&sim).await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coingecko", "down": false }),
    )
    .await;
    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "etherscan", "down": true }),
    )
    .await;
    let etherscan_down = statuses(&sim).await;

    assert_eq!(
        faults.coingecko,
        ProviderFaults {
            down: true,
            ..ProviderFaults::default()
        }
    );
    assert!(!faults.down, "the global switch is untouched");
    assert_eq!(coingecko_down, [503, 200, 200, 200, 200, 200, 200]);
    assert_eq!(etherscan_down, [200, 200, 503, 200, 200, 200, 200]);
    let stats: Stats = sim_get(&sim, "/sim/stats").await;
    assert_eq!(stats.down_rejections, 2);
    assert_eq!(stats.by_provider["coingecko"].down_rejections, 1);
    assert_eq!(stats.by_provider["etherscan"].down_rejections, 1);
    assert_eq!(stats.by_provider["binance"].requests, 2);
    assert_eq!(stats.by_provider["coincap"].requests, 2);
    assert_eq!(stats.by_provider["alchemy"].requests, 2);
    assert_eq!(stats.by_provider["alphavantage"].requests, 2);
    assert_eq!(stats.requests_total, 14);
}

#[tokio::test]
async fn the_new_rest_providers_go_down_alone_too() {
    let sim = frozen_sim(1).await;

    sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coincap", "down": true }),
    )
    .await;
    let coincap_down = statuses(&sim).await;
    let faults: Faults = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "alchemy", "down": true }),
    )
    .await
    .json()
    .await
    .unwrap();
    let both_down = statuses(&sim).await;

    assert_eq!(coincap_down, [200, 200, 200, 200, 503, 200, 200]);
    assert_eq!(both_down, [200, 200, 200, 200, 503, 503, 200]);
    assert!(faults.alchemy.down && faults.coincap.down);
    assert!(!faults.coingecko.down);
    let stats = sim.stats();
    assert_eq!(stats.by_provider["coincap"].down_rejections, 2);
    assert_eq!(stats.by_provider["alchemy"].down_rejections, 1);
}

#[tokio::test]
async fn the_global_down_switch_takes_every_provider_down() {
    let sim = frozen_sim(1).await;

    sim_post(&sim, "/sim/control", json!({ "down": true })).await;
    let down = statuses(&sim).await;
    sim_post(&sim, "/sim/control", json!({ "down": false })).await;

    assert_eq!(down, [503; 7]);
    assert_eq!(statuses(&sim).await, [200; 7]);
}

#[tokio::test]
async fn a_provider_error_rate_and_latency_apply_to_that_provider_only() {
    let sim = frozen_sim(1).await;
    sim.control(&coinbeat_sim::ControlRequest {
        provider: Some(Provider::Binance),
        error_rate: Some(1.0),
        ..Default::default()
    })
    .unwrap();

    let answered = statuses(&sim).await;

    assert_eq!(answered, [200, 503, 200, 200, 200, 200, 200]);
    assert_eq!(sim.stats().by_provider["binance"].injected_errors, 1);
}

#[tokio::test]
async fn a_provider_minute_limit_applies_to_that_provider_only_and_the_stricter_limit_wins() {
    let sim = frozen_sim(1).await;
    let set = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coinlore", "rate_limit_per_minute": 2 }),
    )
    .await;
    assert_eq!(set.status(), 200);

    let rounds = [
        statuses(&sim).await,
        statuses(&sim).await,
        statuses(&sim).await,
    ];
    assert_eq!(
        rounds,
        [
            [200, 200, 200, 200, 200, 200, 200],
            [200, 200, 200, 200, 200, 200, 200],
            [200, 200, 200, 429, 200, 200, 200]
        ],
        "CoinLore's third request in the minute is refused, no other provider's"
    );
    let stats = sim.stats();
    assert_eq!(stats.by_provider["coinlore"].rate_limited, 1);
    assert_eq!(stats.rate_limited, 1);

    // A looser global limit leaves CoinLore's own in force; a stricter one limits everyone.
    sim_post(&sim, "/sim/control", json!({ "rate_limit_per_minute": 50 })).await;
    assert_eq!(statuses(&sim).await[3], 429);
    sim_post(&sim, "/sim/control", json!({ "rate_limit_per_minute": 5 })).await;
    assert_eq!(
        statuses(&sim).await,
        [200, 200, 200, 429, 200, 200, 200],
        "the fifth CoinGecko, Binance, Etherscan, CoinCap, Alchemy and Alpha Vantage request is \
         admitted"
    );
    // Etherscan and Alpha Vantage say they are limited in a 200's body.
    assert_eq!(statuses(&sim).await, [429, 429, 200, 429, 429, 429, 200]);
    let stats = sim.stats();
    for provider in [
        "coingecko",
        "binance",
        "etherscan",
        "coincap",
        "alchemy",
        "alphavantage",
    ] {
        assert_eq!(stats.by_provider[provider].rate_limited, 1, "{provider}");
    }
    assert_eq!(stats.by_provider["coinlore"].rate_limited, 4);
}

#[tokio::test]
async fn stream_faults_are_set_for_a_provider_with_a_stream_and_refused_otherwise() {
    let sim = frozen_sim(1).await;

    let set = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "binance", "stream_silent": true, "stream_malformed_rate": 0.25 }),
    )
    .await;
    let dropped = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coincap", "drop_streams": true }),
    )
    .await;
    let refusals = [
        json!({ "stream_silent": true }),
        json!({ "drop_streams": true }),
        json!({ "provider": "coingecko", "stream_silent": true }),
        json!({ "provider": "etherscan", "drop_streams": true }),
        json!({ "provider": "coincap", "stream_malformed_rate": 1.5 }),
        json!({ "provider": "alchemy", "stream_silent": true }),
        json!({ "provider": "alchemy", "drop_streams": true }),
        json!({ "provider": "alphavantage", "stream_silent": true }),
        json!({ "provider": "alphavantage", "stream_malformed_rate": 0.1 }),
    ];
    let mut statuses = Vec::new();
    for change in refusals {
        statuses.push(
            sim_post(&sim, "/sim/control", change)
                .await
                .status()
                .as_u16(),
        );
    }
    let now: Faults = sim_get(&sim, "/sim/control").await;

    assert_eq!(set.status(), 200);
    assert_eq!(dropped.status(), 200);
    assert_eq!(statuses, [400; 9]);
    assert_eq!(
        now.binance,
        ProviderFaults {
            stream_silent: true,
            stream_malformed_rate: 0.25,
            ..ProviderFaults::default()
        }
    );
    assert_eq!(
        now.coincap,
        ProviderFaults::default(),
        "a drop is not a state"
    );
}

#[tokio::test]
async fn a_day_limit_needs_a_provider_and_limits_that_provider_only() {
    let sim = frozen_sim(1).await;

    let without = sim_post(&sim, "/sim/control", json!({ "calls_per_day": 1 })).await;
    let set = sim_post(
        &sim,
        "/sim/control",
        json!({ "provider": "coingecko", "calls_per_day": 1 }),
    )
    .await;
    let faults: Faults = set.json().await.unwrap();
    let rounds = [statuses(&sim).await, statuses(&sim).await];

    assert_eq!(without.status(), 400);
    assert_eq!(faults.coingecko.calls_per_day, 1);
    assert_eq!(faults.alphavantage.calls_per_day, 0);
    assert_eq!(
        rounds,
        [[200; 7], [429, 200, 200, 200, 200, 200, 200]],
        "CoinGecko's second request of the day gets its own 429"
    );
    assert_eq!(sim.stats().by_provider["coingecko"].rate_limited, 1);
}

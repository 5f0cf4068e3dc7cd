//! What describes a coin beyond its price: symbol, name, supplies, all-time high and low, and its
//! ids on other providers (CoinLore's numeric id, Binance's USDT pair). Built-in coins carry
//! realistic figures; synthetic ones derive theirs from their anchor and their roster entry
//! ([`super::synthetic`]).

use super::catalogue::{Catalogue, CoinIndex, CoinSpec};
use super::synthetic::Kind;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoinInfo {
    /// Upper case, as Binance and CoinLore write it (CoinGecko lowercases it).
    pub(crate) symbol: String,
    pub(crate) name: String,
    /// `None` for uncapped coins (ETH, SOL, ...): CoinGecko's `null`, CoinLore's `""`.
    pub(crate) max_supply: Option<f64>,
    pub(crate) total_supply: f64,
    pub(crate) ath_usd: f64,
    pub(crate) ath_date: &'static str,
    pub(crate) atl_usd: f64,
    pub(crate) atl_date: &'static str,
    pub(crate) coinlore_id: u64,
    /// Whether Binance lists `{symbol}USDT` while the coin is listed: every built-in coin but USDT
    /// (no USDT pair), and, with [`crate::StreamConfig::list_synthetic_on_binance`], each
    /// synthetic original (the first coin to hold its ticker). So a pair names exactly one coin,
    /// and a built-in ticker's pair (`BTCUSDT`) is always the built-in coin's.
    pub(crate) on_binance: bool,
    /// The price of an initial offering, which gives CoinGecko's `roi`; `None` gives `roi: null`.
    pub(crate) ico_usd: Option<f64>,
}

struct Listed {
    id: &'static str,
    symbol: &'static str,
    name: &'static str,
    max_supply: Option<f64>,
    /// Total supply as a multiple of the circulating supply.
    total_ratio: f64,
    ath: (f64, &'static str),
    atl: (f64, &'static str),
    coinlore_id: u64,
    ico_usd: Option<f64>,
}

#[rustfmt::skip]
const LISTED: &[Listed] = &[
    Listed { id: "tether", symbol: "USDT", name: "Tether", max_supply: None, total_ratio: 1.0, ath: (1.32, "2018-07-24T00:00:00.000Z"), atl: (0.572521, "2015-03-02T00:00:00.000Z"), coinlore_id: 518, ico_usd: None },
    Listed { id: "tron", symbol: "TRX", name: "TRON", max_supply: None, total_ratio: 1.0, ath: (0.431288, "2024-12-04T00:00:00.000Z"), atl: (0.00180434, "2017-11-12T00:00:00.000Z"), coinlore_id: 2713, ico_usd: None },
    Listed { id: "bitcoin", symbol: "BTC", name: "Bitcoin", max_supply: Some(21.0e6), total_ratio: 1.0, ath: (126_080.0, "2025-10-06T18:57:42.558Z"), atl: (67.81, "2013-07-06T00:00:00.000Z"), coinlore_id: 90, ico_usd: None },
    Listed { id: "litecoin", symbol: "LTC", name: "Litecoin", max_supply: Some(84.0e6), total_ratio: 1.0, ath: (410.26, "2021-05-10T03:13:07.904Z"), atl: (1.15, "2015-01-14T00:00:00.000Z"), coinlore_id: 1, ico_usd: None },
    Listed { id: "usd-coin", symbol: "USDC", name: "USDC", max_supply: None, total_ratio: 1.0, ath: (1.17, "2019-05-08T00:40:28.300Z"), atl: (0.877647, "2023-03-11T08:02:13.981Z"), coinlore_id: 33285, ico_usd: None },
    Listed { id: "ethereum", symbol: "ETH", name: "Ethereum", max_supply: None, total_ratio: 1.0, ath: (4_946.05, "2025-08-24T19:21:03.333Z"), atl: (0.432979, "2015-10-20T00:00:00.000Z"), coinlore_id: 80, ico_usd: Some(0.311) },
    Listed { id: "worldcoin-wld", symbol: "WLD", name: "Worldcoin", max_supply: Some(10.0e9), total_ratio: 7.69, ath: (11.74, "2024-03-10T00:39:49.165Z"), atl: (0.58, "2025-04-07T00:00:00.000Z"), coinlore_id: 129_520, ico_usd: None },
    Listed { id: "polygon-ecosystem-token", symbol: "POL", name: "POL (ex-MATIC)", max_supply: None, total_ratio: 1.0, ath: (1.29, "2024-03-13T00:00:00.000Z"), atl: (0.15, "2025-04-07T00:00:00.000Z"), coinlore_id: 132_867, ico_usd: None },
    Listed { id: "optimism", symbol: "OP", name: "Optimism", max_supply: Some(4_294_967_296.0), total_ratio: 2.68, ath: (4.84, "2024-03-06T08:35:50.817Z"), atl: (0.402159, "2022-06-18T20:54:52.178Z"), coinlore_id: 45_219, ico_usd: None },
    Listed { id: "solana", symbol: "SOL", name: "Solana", max_supply: None, total_ratio: 1.25, ath: (293.31, "2025-01-19T11:15:27.957Z"), atl: (0.500801, "2020-05-11T19:35:23.449Z"), coinlore_id: 48_543, ico_usd: Some(0.22) },
    Listed { id: "binancecoin", symbol: "BNB", name: "BNB", max_supply: Some(200.0e6), total_ratio: 1.0, ath: (1_369.99, "2025-10-13T00:00:00.000Z"), atl: (0.0398177, "2017-10-19T00:00:00.000Z"), coinlore_id: 2710, ico_usd: Some(0.15) },
    Listed { id: "avalanche-2", symbol: "AVAX", name: "Avalanche", max_supply: Some(720.0e6), total_ratio: 1.12, ath: (144.96, "2021-11-21T14:18:56.538Z"), atl: (2.8, "2020-12-31T13:15:21.540Z"), coinlore_id: 44_883, ico_usd: Some(0.5) },
    Listed { id: "shiba-inu", symbol: "SHIB", name: "Shiba Inu", max_supply: None, total_ratio: 1.0003, ath: (0.00008616, "2021-10-28T03:54:55.568Z"), atl: (0.000000000056366, "2020-11-28T11:26:25.838Z"), coinlore_id: 45_088, ico_usd: None },
    Listed { id: "pepe", symbol: "PEPE", name: "Pepe", max_supply: Some(420.69e12), total_ratio: 1.0, ath: (0.00002803, "2024-12-09T00:00:00.000Z"), atl: (0.000000055142, "2023-04-18T02:14:41.591Z"), coinlore_id: 138_530, ico_usd: None },
    Listed { id: "bonk", symbol: "BONK", name: "Bonk", max_supply: None, total_ratio: 1.15, ath: (0.00005825, "2024-11-20T00:00:00.000Z"), atl: (0.000000086142, "2022-12-29T22:48:46.755Z"), coinlore_id: 144_050, ico_usd: None },
];

/// Dates of synthetic coins' extremes.
const SYNTHETIC_ATH_DATE: &str = "2024-03-14T07:10:36.635Z";
const SYNTHETIC_ATL_DATE: &str = "2020-03-13T02:22:55.391Z";
/// CoinLore ids of synthetic coins start here, far from real ones.
const SYNTHETIC_COINLORE_BASE: u64 = 1_000_000;

/// The ticker and name of the built-in coin `id`.
pub(super) fn builtin_symbol_name(id: &str) -> Option<(&'static str, &'static str)> {
    LISTED
        .iter()
        .find(|l| l.id == id)
        .map(|l| (l.symbol, l.name))
}

/// The coin at `index` described; `spec` is its parameters with any supply scale applied
/// (`scale`, from a `set_rank` control, also scales a built-in's max supply, so the circulating
/// supply never exceeds it). `synthetic_on_binance` is whether synthetic coins may have a pair.
pub(super) fn info(
    catalogue: &Catalogue,
    index: CoinIndex,
    spec: &CoinSpec,
    scale: f64,
    synthetic_on_binance: bool,
) -> CoinInfo {
    if let Some(synthetic) = catalogue.synthetic(index) {
        return CoinInfo {
            symbol: synthetic.symbol.clone(),
            name: synthetic.name.clone(),
            max_supply: None,
            total_supply: spec.circulating_supply,
            // The walk stays within a few percent of the anchor.
            ath_usd: spec.anchor_usd * 1.8,
            ath_date: SYNTHETIC_ATH_DATE,
            atl_usd: spec.anchor_usd * 0.05,
            atl_date: SYNTHETIC_ATL_DATE,
            coinlore_id: SYNTHETIC_COINLORE_BASE + index,
            // One pair per ticker: the original holder's (copycats and bridged copies share
            // theirs with an earlier coin or a built-in one).
            on_binance: synthetic_on_binance && synthetic.kind == Kind::Original,
            ico_usd: None,
        };
    }
    let id = catalogue.builtin_id(index).unwrap_or_default();
    let l = LISTED.iter().find(|l| l.id == id).unwrap_or(&LISTED[0]);
    CoinInfo {
        symbol: l.symbol.to_owned(),
        name: l.name.to_owned(),
        max_supply: l.max_supply.map(|max| max * scale),
        total_supply: spec.circulating_supply * l.total_ratio,
        ath_usd: l.ath.0,
        ath_date: l.ath.1,
        atl_usd: l.atl.0,
        atl_date: l.atl.1,
        coinlore_id: l.coinlore_id,
        on_binance: l.symbol != "USDT",
        ico_usd: l.ico_usd,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn every_built_in_coin_is_described_and_extremes_bracket_its_anchor() {
        let catalogue = Catalogue::new(0, 1);
        for l in LISTED {
            let index = catalogue.index_of(l.id).expect("a catalogue coin");
            let spec = catalogue.spec(index);
            assert!(l.ath.0 > spec.anchor_usd * 1.15, "{} ath", l.id);
            assert!(l.atl.0 < spec.anchor_usd * 0.9, "{} atl", l.id);
        }
        assert_eq!(LISTED.len() as u64, catalogue.len());
    }

    #[test]
    fn synthetic_tickers_collide_but_each_binance_pair_names_one_coin() {
        let catalogue = Catalogue::new(14_000, 1);
        let builtin: HashSet<&str> = LISTED.iter().map(|l| l.symbol).collect();
        let mut holders: HashMap<String, usize> = HashMap::new();
        let mut pairs: HashMap<String, CoinIndex> = HashMap::new();
        for index in 0..catalogue.len() {
            let described = info(&catalogue, index, &catalogue.spec(index), 1.0, true);
            let symbol = described.symbol.clone();
            assert!((2..=6).contains(&symbol.len()), "{symbol}");
            assert!(
                symbol
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
                "{symbol}"
            );
            *holders.entry(symbol.clone()).or_default() += 1;
            if described.on_binance {
                let earlier = pairs.insert(symbol.clone(), index);
                assert_eq!(earlier, None, "two {symbol}USDT pairs");
            }
            if index >= catalogue.builtin_len() {
                let off = info(&catalogue, index, &catalogue.spec(index), 1.0, false);
                assert!(!off.on_binance);
                if builtin.contains(symbol.as_str()) {
                    assert!(!described.on_binance, "{symbol} is a built-in's pair");
                }
            }
        }
        assert_eq!(pairs["BTC"], catalogue.index_of("bitcoin").unwrap());
        assert_eq!(pairs["ETH"], catalogue.index_of("ethereum").unwrap());
        let shared: usize = holders.values().filter(|&&n| n > 1).sum();
        assert!(shared > 200, "{shared} coins share a ticker");
        let builtin_shared = holders
            .iter()
            .filter(|(s, n)| builtin.contains(s.as_str()) && **n > 1)
            .count();
        assert!(
            builtin_shared > 0,
            "some synthetic coin has a built-in ticker"
        );
        // Every ticker has its one pair, but USDT, which is the quote currency.
        assert_eq!(pairs.len(), holders.len() - 1);
        assert!(!pairs.contains_key("USDT"));
    }
}

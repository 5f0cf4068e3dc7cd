//! `/coins/list?include_platform=true`: every coin CoinGecko lists, with its contracts.

use std::collections::BTreeMap;

use coinbeat_shared::{
    catalogue::{CatalogueCoin, normalize_symbol},
    domain::CoinId,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Row {
    id: String,
    symbol: String,
    name: String,
    /// Absent without `include_platform`; values are `null` for some chains.
    #[serde(default)]
    platforms: BTreeMap<String, Option<String>>,
}

/// The listed coins, unranked, and how many rows were skipped because their id cannot be a
/// [`CoinId`] (none on CoinGecko today; counted so a change of theirs shows).
#[derive(Debug, Clone, PartialEq)]
pub struct CoinsList {
    pub coins: Vec<CatalogueCoin>,
    pub skipped: usize,
}

/// Parses a `/coins/list` body. Platform entries with an empty chain or address (CoinGecko
/// sends `{"": ""}` for some native coins) are dropped.
pub fn parse_coins_list(body: &str) -> Result<CoinsList, String> {
    let rows: Vec<Row> =
        serde_json::from_str(body).map_err(|e| format!("unexpected /coins/list body: {e}"))?;
    let mut skipped = 0;
    let coins = rows
        .into_iter()
        .filter_map(|row| {
            let Ok(id) = CoinId::parse(&row.id) else {
                skipped += 1;
                return None;
            };
            let platforms = row
                .platforms
                .into_iter()
                .filter_map(|(chain, address)| {
                    let address = address?.trim().to_owned();
                    (!chain.is_empty() && !address.is_empty()).then_some((chain, address))
                })
                .collect();
            Some(CatalogueCoin {
                id,
                symbol: normalize_symbol(&row.symbol),
                name: row.name.trim().to_owned(),
                rank: None,
                market_cap_usd: None,
                platforms,
            })
        })
        .collect();
    Ok(CoinsList { coins, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_coins_with_upper_case_symbols_and_real_contracts_only() {
        let body = r#"[
            {"id":"bitcoin","symbol":"btc","name":"Bitcoin","platforms":{"":""}},
            {"id":"usd-coin","symbol":"usdc","name":"USDC",
             "platforms":{"ethereum":"0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","tron":null,"solana":""}},
            {"id":"Bad Id","symbol":"x","name":"x"}
        ]"#;
        let list = parse_coins_list(body).unwrap();
        assert_eq!(list.skipped, 1);
        assert_eq!(list.coins.len(), 2);
        assert_eq!(list.coins[0].symbol, "BTC");
        assert!(list.coins[0].platforms.is_empty());
        assert_eq!(
            list.coins[1].platforms.keys().collect::<Vec<_>>(),
            ["ethereum"]
        );
        assert!(parse_coins_list("{}").unwrap_err().contains("/coins/list"));
    }
}

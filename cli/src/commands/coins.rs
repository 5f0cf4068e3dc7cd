//! `coinbeat coins [SEARCH]`: the coin catalogue, best-ranked first, or the coins whose name,
//! symbol or id starts with SEARCH; with where it came from and when.

use std::process::ExitCode;

use coinbeat_shared::catalogue::{CatalogueStore, CoinIndex};
use serde_json::json;

use crate::output;

pub async fn coins(
    settings: &coinbeat_shared::Settings,
    search: Option<&str>,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let super::Connected { conn, keys, .. } = super::connect(settings).await?;
    let store = CatalogueStore::new(conn, keys);
    let meta = store.meta().await?;
    let index = CoinIndex::new(store.load().await?, &settings.prices.coins);
    let found = match search {
        Some(search) => index.search(search, limit),
        None => index.list(None, None, limit),
    };
    if json {
        output::json(&json!({ "catalogue": meta, "coins": found }));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(meta) = meta else {
        println!(
            "no coin catalogue yet: the `catalogue` schedule entry fetches it at first start and \
             daily (coinbeat schedule run catalogue asks for it now)"
        );
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "{} coins ({} ranked) from {}, refreshed {}",
        meta.coins,
        meta.ranked,
        meta.source,
        meta.refreshed_at.to_rfc3339()
    );
    println!(
        "{:>6}  {:<10} {:<32} {:<28} contracts",
        "rank", "symbol", "id", "name"
    );
    for coin in found {
        let rank = coin.rank.map_or("-".to_owned(), |r| r.to_string());
        let chains: Vec<&str> = coin.platforms.keys().map(String::as_str).collect();
        println!(
            "{:>6}  {:<10} {:<32} {:<28} {}",
            rank,
            coin.symbol,
            coin.id.as_str(),
            coin.name,
            chains.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! Moving price records an older release kept under a symbol (`{prefix}:price:BTC` and its
//! history) to their coin id's keys (`{prefix}:price:bitcoin`), so an upgrade keeps every
//! record and its history. The price worker runs it at start and the cleanup job daily (which
//! catches records a not yet upgraded replica wrote during a rolling upgrade); a second run
//! finds nothing.
//!
//! A symbol key is told from an id key by its case: symbols are upper case (`BTC`, `1INCH`),
//! coin ids lower case (`bitcoin`). A record whose JSON names no valid coin id stays where it
//! is until it expires.

use std::sync::LazyLock;

use redis::{AsyncCommands, Script, aio::ConnectionManager};

use super::CacheError;
use crate::{
    domain::{CoinId, Symbol},
    keys::Keys,
};

static MOVE_PRICE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/move_price.lua")));

/// Moves every symbol-keyed price record to its coin id's key; returns how many moved.
pub async fn migrate_symbol_keys(
    conn: &ConnectionManager,
    keys: &Keys,
    history_points: u64,
) -> Result<u64, CacheError> {
    let mut c = conn.clone();
    let legacy: Vec<Symbol> = super::price_sweep::price_keys(conn, keys)
        .await?
        .iter()
        .filter(|key| !Keys::is_price_history(key))
        .filter_map(|key| keys.price_key_name(key).and_then(legacy_symbol))
        .collect();
    let mut moved = 0;
    for symbol in legacy {
        let old = keys.price_by_symbol(&symbol);
        let json: Option<String> = c.hget(&old, "record").await?;
        let Some(coin) = json.as_deref().and_then(coin_of) else {
            continue;
        };
        let done: u64 = MOVE_PRICE
            .key(&old)
            .key(Keys::price_history_of(&old))
            .key(keys.price(&coin))
            .key(keys.price_history(&coin))
            .arg(history_points)
            .invoke_async(&mut c)
            .await?;
        moved += done;
    }
    if moved > 0 {
        tracing::info!(
            moved,
            "moved price records from symbol keys to coin id keys"
        );
    }
    Ok(moved)
}

/// The symbol a key suffix names, if it is an older release's symbol key: upper case letters
/// and digits with at least one letter (an id has no upper case letter).
fn legacy_symbol(suffix: &str) -> Option<Symbol> {
    let upper = suffix.bytes().any(|b| b.is_ascii_uppercase());
    let lower = suffix.bytes().any(|b| b.is_ascii_lowercase());
    if !upper || lower {
        return None;
    }
    Symbol::parse(suffix).ok().filter(|s| s.as_str() == suffix)
}

/// The coin id a stored record names.
fn coin_of(json: &str) -> Option<CoinId> {
    #[derive(serde::Deserialize)]
    struct Named {
        coin_id: String,
    }
    let named: Named = serde_json::from_str(json).ok()?;
    CoinId::parse(&named.coin_id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_keys_are_upper_case_and_id_keys_are_not() {
        assert_eq!(legacy_symbol("BTC").unwrap().as_str(), "BTC");
        assert_eq!(legacy_symbol("1INCH").unwrap().as_str(), "1INCH");
        assert!(legacy_symbol("bitcoin").is_none());
        assert!(legacy_symbol("usd-coin").is_none());
        assert!(
            legacy_symbol("1000").is_none(),
            "digits alone could be either"
        );
        assert!(legacy_symbol("Bitcoin").is_none());
        assert_eq!(
            coin_of(r#"{"coin_id":"bitcoin","symbol":"BTC"}"#)
                .unwrap()
                .as_str(),
            "bitcoin"
        );
        assert!(coin_of(r#"{"coin_id":""}"#).is_none());
    }
}

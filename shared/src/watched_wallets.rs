//! The addresses an operator added to the hourly watch (`/v1/admin/wallets`), stored in Redis
//! beside the ones in `wallets.watched`. The beat analyses both on `wallets.watch_cron`: each
//! address, from either list, is its own schedule entry `wallet-{chain}-{address}` (the
//! scheduler picks up additions and removals in Redis while it runs).

use redis::aio::ConnectionManager;

use crate::{
    Settings,
    domain::{Address, Chain},
    keys::Keys,
    settings::{ScheduleTable, WalletSettings},
};

/// The addresses added in Redis for `chain`, sorted. Entries that do not parse are skipped
/// (only parsed addresses are ever stored).
pub async fn list(
    conn: &ConnectionManager,
    keys: &Keys,
    chain: Chain,
) -> Result<Vec<Address>, redis::RedisError> {
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(keys.watched_wallets(chain))
        .query_async(&mut conn.clone())
        .await?;
    let mut addresses: Vec<Address> = members
        .iter()
        .filter_map(|m| Address::parse(m).ok())
        .collect();
    addresses.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(addresses)
}

/// Adds `address`; `false` when it was there already.
pub async fn add(
    conn: &ConnectionManager,
    keys: &Keys,
    chain: Chain,
    address: &Address,
) -> Result<bool, redis::RedisError> {
    let added: i64 = redis::cmd("SADD")
        .arg(keys.watched_wallets(chain))
        .arg(address.as_str())
        .query_async(&mut conn.clone())
        .await?;
    Ok(added == 1)
}

/// Removes `address`; `false` when it was not there.
pub async fn remove(
    conn: &ConnectionManager,
    keys: &Keys,
    chain: Chain,
    address: &Address,
) -> Result<bool, redis::RedisError> {
    let removed: i64 = redis::cmd("SREM")
        .arg(keys.watched_wallets(chain))
        .arg(address.as_str())
        .query_async(&mut conn.clone())
        .await?;
    Ok(removed == 1)
}

/// The schedule table the beat runs: the configured one plus a watch entry for each wallet
/// added in Redis (an entry of that name in the settings wins), for `GET /v1/schedules` and
/// `coinbeat schedules`.
pub async fn effective_schedule(
    conn: &ConnectionManager,
    keys: &Keys,
    settings: &Settings,
) -> Result<ScheduleTable, redis::RedisError> {
    let wallets = &settings.wallets;
    let mut table = settings.schedule.clone();
    for address in list(conn, keys, wallets.chain).await? {
        table
            .entry(WalletSettings::entry_name(wallets.chain, &address))
            .or_insert_with(|| wallets.watch_entry(&address));
    }
    Ok(table)
}

//! The tracked set as an operator changed it (`/v1/admin/symbols`): stored in Redis as an
//! override of `prices.tracked`, honoured by every price job without a symbol list (the beat's
//! `prices` entry, `POST /v1/tasks {"kind": "prices"}`) and by `GET /v1/prices`.
//!
//! The first change copies the settings' set into Redis and changes that copy; from then on the
//! copy is the tracked set (an empty copy tracks nothing) until [`reset`] removes it. Each
//! change is one Lua script, so concurrent changes never lose one another.

use redis::{Script, aio::ConnectionManager};

use crate::{domain::Symbol, keys::Keys, settings::PricesSettings};

/// Why a stored tracked set could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrackedError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// A symbol no coin has: neither catalogued nor in `[prices.coins]`, so no price job
    /// could price it.
    #[error(
        "no coin has the symbol {0}: it is neither in the coin catalogue (GET /v1/coins?search=) \
         nor under [prices.coins], so no price job could price it"
    )]
    Unmappable(Symbol),
}

/// ARGV[1] "add" | "remove", ARGV[2] the symbol, ARGV[3] the settings' set (comma-separated),
/// used when nothing is stored yet. Returns {changed (0/1), the new set}.
const CHANGE: &str = r#"
local current = redis.call("GET", KEYS[1])
if not current then current = ARGV[3] end
local list, found = {}, false
for s in string.gmatch(current, "[^,]+") do
    if s == ARGV[2] then found = true end
    if not (ARGV[1] == "remove" and s == ARGV[2]) then table.insert(list, s) end
end
local changed = 0
if ARGV[1] == "add" and not found then table.insert(list, ARGV[2]); changed = 1 end
if ARGV[1] == "remove" and found then changed = 1 end
local joined = table.concat(list, ",")
redis.call("SET", KEYS[1], joined)
return {changed, joined}
"#;

/// The tracked set: the stored override, or the settings' set when there is none.
pub async fn load(
    conn: &ConnectionManager,
    keys: &Keys,
    prices: &PricesSettings,
) -> Result<Vec<Symbol>, redis::RedisError> {
    let stored: Option<String> = redis::cmd("GET")
        .arg(keys.tracked_symbols())
        .query_async(&mut conn.clone())
        .await?;
    Ok(match stored {
        Some(list) => parse(&list),
        None => prices.tracked.clone(),
    })
}

/// Whether an override is stored (else the settings' set is in force).
pub async fn is_overridden(
    conn: &ConnectionManager,
    keys: &Keys,
) -> Result<bool, redis::RedisError> {
    redis::cmd("EXISTS")
        .arg(keys.tracked_symbols())
        .query_async(&mut conn.clone())
        .await
}

/// Adds `symbol`, which must name a coin (`known`: the caller's catalogue, or the settings'
/// `[prices.coins]`); `Ok(false)` when it was tracked already.
pub async fn add(
    conn: &ConnectionManager,
    keys: &Keys,
    prices: &PricesSettings,
    symbol: &Symbol,
    known: impl Fn(&Symbol) -> bool,
) -> Result<(bool, Vec<Symbol>), TrackedError> {
    if !known(symbol) {
        return Err(TrackedError::Unmappable(symbol.clone()));
    }
    Ok(change(conn, keys, prices, "add", symbol).await?)
}

/// Removes `symbol`; `Ok(false)` when it was not tracked.
pub async fn remove(
    conn: &ConnectionManager,
    keys: &Keys,
    prices: &PricesSettings,
    symbol: &Symbol,
) -> Result<(bool, Vec<Symbol>), redis::RedisError> {
    change(conn, keys, prices, "remove", symbol).await
}

/// Drops the override: the settings' set is in force again.
pub async fn reset(conn: &ConnectionManager, keys: &Keys) -> Result<(), redis::RedisError> {
    redis::cmd("DEL")
        .arg(keys.tracked_symbols())
        .query_async(&mut conn.clone())
        .await
}

async fn change(
    conn: &ConnectionManager,
    keys: &Keys,
    prices: &PricesSettings,
    op: &str,
    symbol: &Symbol,
) -> Result<(bool, Vec<Symbol>), redis::RedisError> {
    let defaults: Vec<&str> = prices.tracked.iter().map(Symbol::as_str).collect();
    let (changed, list): (i64, String) = Script::new(CHANGE)
        .key(keys.tracked_symbols())
        .arg(op)
        .arg(symbol.as_str())
        .arg(defaults.join(","))
        .invoke_async(&mut conn.clone())
        .await?;
    Ok((changed == 1, parse(&list)))
}

/// Symbols were checked before they were stored; anything else is skipped, never trusted.
fn parse(list: &str) -> Vec<Symbol> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|s| Symbol::parse(s).ok())
        .collect()
}

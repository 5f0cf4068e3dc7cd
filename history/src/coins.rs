//! Coin metadata: symbol, name, rank, market cap and contracts, as the catalogue last had them.
//! Written whole per coin, newest wins: an older write (a slow job) never replaces a newer one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::{HistoryError, HistoryStore, store::none_if_unmigrated};

/// One coin's metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoinMeta {
    pub coin_id: String,
    pub symbol: Option<String>,
    pub name: Option<String>,
    pub rank: Option<u32>,
    pub market_cap_usd: Option<Decimal>,
    /// Contract address by platform.
    pub platforms: BTreeMap<String, String>,
    /// Where it came from (`coingecko`, `coinlore`).
    pub source: Option<String>,
    /// When it was true.
    pub updated_at: Option<DateTime<Utc>>,
}

impl HistoryStore {
    /// Writes each coin's metadata unless a newer one is stored; returns how many were written.
    pub async fn write_coins(&self, coins: &[CoinMeta]) -> Result<u64, HistoryError> {
        self.ready().await?;
        let mut written = 0;
        for batch in coins.chunks(crate::BATCH_ROWS) {
            let mut id = Vec::new();
            let mut symbol = Vec::new();
            let mut name = Vec::new();
            let mut rank = Vec::new();
            let mut cap = Vec::new();
            let mut platforms = Vec::new();
            let mut source = Vec::new();
            let mut at = Vec::new();
            for c in batch {
                id.push(c.coin_id.as_str());
                symbol.push(c.symbol.as_deref());
                name.push(c.name.as_deref());
                rank.push(c.rank.map(|r| r.min(i32::MAX as u32) as i32));
                cap.push(c.market_cap_usd);
                platforms.push(serde_json::to_string(&c.platforms).expect("a map of strings"));
                source.push(c.source.as_deref());
                at.push(c.updated_at.unwrap_or_else(Utc::now));
            }
            written += sqlx::query(
                "INSERT INTO coins AS c (coin_id, symbol, name, rank, market_cap_usd, platforms, \
                                         source, updated_at) \
                 SELECT i, s, n, r, m, p::jsonb, src, t \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::numeric[], \
                             $6::text[], $7::text[], $8::timestamptz[]) AS u(i, s, n, r, m, p, src, t) \
                 ON CONFLICT (coin_id) DO UPDATE SET \
                   symbol = EXCLUDED.symbol, name = EXCLUDED.name, rank = EXCLUDED.rank, \
                   market_cap_usd = EXCLUDED.market_cap_usd, platforms = EXCLUDED.platforms, \
                   source = EXCLUDED.source, updated_at = EXCLUDED.updated_at \
                 WHERE c.updated_at IS NULL OR c.updated_at <= EXCLUDED.updated_at",
            )
            .bind(&id)
            .bind(&symbol)
            .bind(&name)
            .bind(&rank)
            .bind(&cap)
            .bind(&platforms)
            .bind(&source)
            .bind(&at)
            .execute(self.pool())
            .await?
            .rows_affected();
        }
        Ok(written)
    }

    /// One coin's stored metadata; `None` when no metadata was ever written for it.
    pub async fn coin(&self, coin_id: &str) -> Result<Option<CoinMeta>, HistoryError> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<i32>,
            Option<Decimal>,
            sqlx::types::Json<BTreeMap<String, String>>,
            Option<String>,
            Option<DateTime<Utc>>,
        );
        let row: Option<Row> = none_if_unmigrated(
            sqlx::query_as(
                "SELECT coin_id, symbol, name, rank, market_cap_usd, platforms, source, updated_at \
                 FROM coins WHERE coin_id = $1 AND updated_at IS NOT NULL",
            )
            .bind(coin_id)
            .fetch_optional(self.pool())
            .await,
        )?;
        Ok(row.map(
            |(coin_id, symbol, name, rank, market_cap_usd, platforms, source, updated_at)| {
                CoinMeta {
                    coin_id,
                    symbol,
                    name,
                    rank: rank.map(|r| r.max(0) as u32),
                    market_cap_usd,
                    platforms: platforms.0,
                    source,
                    updated_at,
                }
            },
        ))
    }
}

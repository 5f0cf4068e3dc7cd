//! A price tier's run (`{"tier": "major"}`): the catalogue's coins of the tier's ranks when the
//! job runs, the tracked coins left out (they are a tier of their own: the `prices` entry from
//! CoinGecko, and the live stream), priced from the tier's source (`[prices.tiers]`).
//!
//! - `binance`: one `/ticker/24hr` of every pair. A USDT pair prices the coin its ticker names
//!   (`Catalogue::name_symbol`, the rule the API and the stream share), when that coin is in
//!   the tier; the tier's coins left over are asked of CoinLore.
//! - `coinlore`: the `/tickers/` pages covering the tier's ranks, then the pages next to them
//!   while some of its coins are still missing (CoinLore's ranks drift from the catalogue's
//!   between refreshes), up to a tenth more on each side; an open tier reads to the end of the
//!   list. The coins that drifted further are asked by CoinLore id (`/ticker/?id=`, 50 a
//!   call), learned from the pages read before. Rows match coins by id (CoinLore's `nameid`
//!   follows CoinGecko's slugs). Each page's records are written as it arrives.
//! - `coingecko`: `/simple/price` in batches, as a job naming ids.
//!
//! Every record says which source priced it; the result counts the calls made and the coins
//! no source priced.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::PoisonError,
    time::Duration,
};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{MarketRow, PriceRecord},
    catalogue::{Catalogue, CatalogueCoin},
    domain::{CoinId, Symbol},
    queue::{JobError, JobResult},
    settings::{TierSettings, TierSource, tiers::COINLORE_PAGE},
};
use serde_json::json;

use super::{PriceWorker, Wanted};
use crate::coinlore::{CoinLoreError, MAX_IDS_PER_TICKER, Tickers};

/// The `source` of records priced from CoinLore's pages.
pub const COINLORE_SOURCE: &str = "coinlore";

/// The last CoinLore page an open tier reads (50,000 coins), whatever the upstream says.
const MAX_PAGE: u32 = 500;

/// How long a tier's run waits for the first catalogue.
const CATALOGUE_WAIT: Duration = Duration::from_secs(300);
/// How often it looks meanwhile.
const CATALOGUE_POLL: Duration = Duration::from_secs(2);

/// How many of the coins no source priced a result names.
const MISSING_NAMED: usize = 20;

/// What a run wrote so far.
#[derive(Debug, Default)]
struct Tally {
    written: u64,
    skipped: u64,
    /// Ids of the coins priced.
    priced: HashSet<String>,
    by_source: BTreeMap<String, u64>,
}

/// Calls a run made, per provider.
#[derive(Debug, Default)]
struct Calls {
    binance: u32,
    coinlore: u32,
    coingecko: u32,
}

impl PriceWorker {
    /// Runs one tier's refresh.
    pub(super) async fn refresh_tier(&self, name: &str) -> JobResult {
        let Some(tier) = self.prices.tiers.get(name).filter(|t| t.enabled) else {
            return Err(JobError::permanent(format!(
                "no tier is named {name:?} in [prices.tiers]"
            )));
        };
        let catalogue = self.catalogue_when_listed().await?;
        // The tracked coins are a tier of their own (the `prices` entry, from CoinGecko, and the
        // live stream): a tier's source would replace their richer records.
        let tracked = coinbeat_shared::tracked_symbols::load(&self.conn, &self.keys, &self.prices)
            .await
            .map_err(|e| JobError::transient(format!("reading the tracked set: {e}")))?;
        let tracked: HashSet<CoinId> = tracked
            .iter()
            .filter_map(|symbol| Some(catalogue.name_symbol(&self.prices, symbol)?.id))
            .collect();
        let members: HashMap<&str, &CatalogueCoin> = catalogue
            .index
            .ranked()
            .iter()
            .filter(|coin| tier.holds(coin.rank) && !tracked.contains(&coin.id))
            .map(|coin| (coin.id.as_str(), coin))
            .collect();
        if members.is_empty() {
            return Ok(Some(json!({
                "tier": name,
                "members": 0,
                "written": 0,
                "note": "no catalogued coin has the tier's ranks (the catalogue is refreshed at \
                         first start and daily)",
            })));
        }
        let mut calls = Calls::default();
        let mut tally = Tally::default();
        let mut failures: Vec<String> = Vec::new();
        match tier.source {
            TierSource::Binance => match self.binance_pass(&catalogue, &members).await {
                Ok(priced) => {
                    calls.binance = 1;
                    self.record(priced, &mut tally).await?;
                }
                Err(e) => failures.push(format!("binance: {e}")),
            },
            TierSource::Coingecko => {
                let wanted: Vec<Wanted> = members
                    .values()
                    .map(|coin| Wanted {
                        id: coin.id.clone(),
                        symbol: coin.symbol.clone(),
                        asked: coin.id.to_string(),
                    })
                    .collect();
                let mut pass = self.ask_coingecko(&wanted).await;
                calls.coingecko = pass.requests as u32;
                if let Some(e) = pass.failure.take() {
                    failures.push(format!("coingecko: {e}"));
                }
                self.record(pass.records, &mut tally).await?;
            }
            TierSource::Coinlore => {}
        }
        // CoinLore: the whole tier, or what the source before it left.
        let mut left: HashMap<&str, &CatalogueCoin> = members
            .iter()
            .filter(|(id, _)| !tally.priced.contains(**id))
            .map(|(id, coin)| (*id, *coin))
            .collect();
        if !left.is_empty() && tier.source != TierSource::Coingecko {
            let listed = catalogue.index.len() as u32;
            if let Some(e) = self
                .coinlore_pass(tier, listed, &mut left, &mut calls, &mut tally)
                .await?
            {
                failures.push(format!("coinlore: {e}"));
            }
        }
        if tally.priced.is_empty() && !failures.is_empty() {
            return Err(JobError::transient(failures.join("; ")));
        }
        let mut missing: Vec<&str> = members
            .keys()
            .filter(|id| !tally.priced.contains(**id))
            .copied()
            .collect();
        missing.sort_unstable_by_key(|id| members[id].rank_order());
        Ok(Some(json!({
            "tier": name,
            "ranks": tier.ranks(),
            "source": tier.source.as_str(),
            "members": members.len(),
            "written": tally.written,
            "skipped_not_newer": tally.skipped,
            "by_source": tally.by_source,
            "missing": missing.len(),
            "missing_first": &missing[..missing.len().min(MISSING_NAMED)],
            "upstream_requests": {
                "binance": calls.binance,
                "coinlore": calls.coinlore,
                "coingecko": calls.coingecko,
            },
            "failures": failures,
        })))
    }

    /// Writes `records` (newest wins) and counts them.
    async fn record(&self, records: Vec<PriceRecord>, tally: &mut Tally) -> Result<(), JobError> {
        if records.is_empty() {
            return Ok(());
        }
        let outcome = self.write(&records).await?;
        tally.written += outcome.written as u64;
        tally.skipped += outcome.skipped as u64;
        for record in records {
            *tally.by_source.entry(record.source).or_default() += 1;
            tally.priced.insert(record.coin_id.to_string());
        }
        Ok(())
    }

    /// The catalogue, waiting up to [`CATALOGUE_WAIT`] while it is still empty: at first start
    /// every tier's entry runs at once (catch-up) while the first catalogue refresh is still
    /// reading its pages, and a tier that found nothing would wait for its next tick (an hour
    /// for the last one).
    async fn catalogue_when_listed(&self) -> Result<Catalogue, JobError> {
        let started = tokio::time::Instant::now();
        loop {
            let catalogue = self
                .catalogue
                .get()
                .await
                .map_err(|e| JobError::transient(format!("reading the coin catalogue: {e}")))?;
            if !catalogue.index.is_empty() || started.elapsed() >= CATALOGUE_WAIT {
                return Ok(catalogue);
            }
            tokio::time::sleep(CATALOGUE_POLL).await;
        }
    }

    /// The members Binance's USDT pairs price.
    async fn binance_pass(
        &self,
        catalogue: &Catalogue,
        members: &HashMap<&str, &CatalogueCoin>,
    ) -> Result<Vec<PriceRecord>, String> {
        let Some(binance) = &self.binance else {
            return Err("providers.binance is disabled".into());
        };
        let fetched_at = Utc::now();
        let tickers = binance.all_tickers_24h().await.map_err(|e| e.to_string())?;
        let mut records = Vec::new();
        for ticker in tickers {
            let Some(base) = ticker.pair.strip_suffix("USDT") else {
                continue;
            };
            let Ok(symbol) = Symbol::parse(base) else {
                continue;
            };
            let Some(named) = catalogue.name_symbol(&self.prices, &symbol) else {
                continue;
            };
            let Some(coin) = members.get(named.id.as_str()) else {
                continue;
            };
            records.push(super::binance_record(
                &coin.id,
                &coin.symbol,
                ticker,
                fetched_at,
            ));
        }
        Ok(records)
    }

    /// Reads CoinLore's pages for the tier until every coin of `left` is priced (each priced one
    /// is taken out of it and written at once, a page at a time) or the pages worth reading are
    /// read: the pages covering the tier's ranks, then, while coins are missing, the pages next
    /// to them, nearest first, up to a tenth more on each side; an open tier reads on to the
    /// end of the list. The coins still missing (their CoinLore rank drifted further from the
    /// catalogue's since its refresh) are asked by CoinLore id, 50 a call, where a page read
    /// before (by any tier in this process) told their id. `Ok(Some(_))`: CoinLore failed part
    /// way (what was read is written).
    async fn coinlore_pass(
        &self,
        tier: &TierSettings,
        listed: u32,
        left: &mut HashMap<&str, &CatalogueCoin>,
        calls: &mut Calls,
        tally: &mut Tally,
    ) -> Result<Option<CoinLoreError>, JobError> {
        let core = tier.coinlore_pages(listed);
        let margin = (core.len() as u32).div_ceil(10).max(1);
        let mut order: Vec<u32> = core.clone().collect();
        for k in 1..=margin {
            order.push(core.end - 1 + k);
            if let Some(before) = core.start.checked_sub(k) {
                order.push(before);
            }
        }
        // An open tier reads on to the end of CoinLore's list: coins the catalogue lists
        // unranked sit anywhere past the ranked ones.
        if tier.to.is_none() {
            order.extend(core.end + margin..MAX_PAGE);
        }
        let mut past_the_end = u32::MAX;
        for page in order {
            if left.is_empty() {
                break;
            }
            if page >= past_the_end {
                continue;
            }
            let fetched_at = Utc::now();
            let tickers = match self
                .coinlore
                .tickers(page * COINLORE_PAGE, COINLORE_PAGE)
                .await
            {
                Ok(tickers) => tickers,
                Err(e) => return Ok(Some(e)),
            };
            calls.coinlore += 1;
            if (tickers.rows.len() as u32) < COINLORE_PAGE {
                past_the_end = page + 1;
            }
            self.priced_from(tickers, left, fetched_at, tally).await?;
        }
        // The drifted ones, by id.
        let known: Vec<String> = {
            let ids = self
                .coinlore_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            left.keys().filter_map(|id| ids.get(*id).cloned()).collect()
        };
        for chunk in known.chunks(MAX_IDS_PER_TICKER) {
            let fetched_at = Utc::now();
            let tickers = match self.coinlore.ticker(chunk).await {
                Ok(tickers) => tickers,
                Err(e) => return Ok(Some(e)),
            };
            calls.coinlore += 1;
            self.priced_from(tickers, left, fetched_at, tally).await?;
        }
        Ok(None)
    }

    /// Writes the records of the coins of `left` that `tickers` holds (taking them out of it),
    /// and learns every row's CoinLore id.
    async fn priced_from(
        &self,
        tickers: Tickers,
        left: &mut HashMap<&str, &CatalogueCoin>,
        fetched_at: DateTime<Utc>,
        tally: &mut Tally,
    ) -> Result<(), JobError> {
        {
            let mut ids = self
                .coinlore_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (row, id) in tickers.rows.iter().zip(&tickers.ids) {
                if !id.is_empty() {
                    ids.insert(row.coin_id.clone(), id.clone());
                }
            }
        }
        let records: Vec<PriceRecord> = tickers
            .rows
            .into_iter()
            .filter_map(|row| {
                let coin = left.remove(row.coin_id.as_str())?;
                coinlore_record(coin, row, fetched_at)
            })
            .collect();
        self.record(records, tally).await
    }
}

/// A record of `coin` from CoinLore's row; `None` without a price.
fn coinlore_record(
    coin: &CatalogueCoin,
    row: MarketRow,
    fetched_at: DateTime<Utc>,
) -> Option<PriceRecord> {
    Some(PriceRecord {
        symbol: coin.symbol.clone(),
        coin_id: CoinId::clone(&coin.id),
        usd: row.price_usd?,
        change_24h_pct: row.change_24h_pct,
        market_cap_usd: row.market_cap_usd,
        volume_24h_usd: row.volume_24h_usd,
        upstream_updated_at: row.upstream_updated_at,
        fetched_at,
        source: COINLORE_SOURCE.to_owned(),
    })
}
